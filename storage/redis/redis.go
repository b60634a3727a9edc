package redis

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/xftp/xftp/storage"
)

// ttlGrace is how long past its expiry (or its creation, if later) a
// record's keys live in Redis if no sweeper deletes it first.
const ttlGrace = time.Hour

// Records is a storage.Records on Redis: standalone, Sentinel-managed or a
// Redis Cluster (see doc.go for the key layout).
type Records struct {
	client  goredis.UniversalClient
	cluster bool
	prefix  string
	usage   string // hash: chunks, bytes (the ledger)
	ready   string // written by Ping
	cursor  atomic.Uint32
	ack     *Acker // nil: writes are acknowledged as Redis answers them
}

var _ storage.Records = (*Records)(nil)

// Open returns Records keeping its keys under prefix in client's database.
// It checks that the client fits the server it reaches (a single-node
// client must not be pointed at a cluster node) and loads the scripts. The
// caller keeps owning client: Close does not close it.
func Open(ctx context.Context, client goredis.UniversalClient, prefix string) (*Records, error) {
	if client == nil {
		return nil, errors.New("redis records: no client")
	}
	if err := CheckPrefix(prefix); err != nil {
		return nil, err
	}
	if err := CheckClient(ctx, client); err != nil {
		return nil, err
	}
	_, cluster := client.(*goredis.ClusterClient)
	r := &Records{
		client:  client,
		cluster: cluster,
		prefix:  prefix,
		usage:   prefix + "usage",
		ready:   prefix + "ready",
	}
	for _, s := range allScripts {
		if err := s.Load(ctx, client).Err(); err != nil {
			return nil, translate("loading scripts", err)
		}
	}
	if _, err := r.migrate(ctx); err != nil {
		return nil, fmt.Errorf("redis records: moving records of the earlier key layout: %w", err)
	}
	return r, nil
}

// CheckPrefix refuses a key prefix with a hash tag: keys carry their own
// tags so that they spread over a cluster's slots, and Redis takes the
// first tag in a name.
func CheckPrefix(prefix string) error {
	if strings.ContainsAny(prefix, "{}") {
		return fmt.Errorf("redis: key prefix %q must not contain '{' or '}': keys carry their own hash tags so that they spread over all slots of a Redis Cluster (use e.g. \"xftp:\")", prefix)
	}
	return nil
}

// CheckClient refuses a single-node client (standalone or Sentinel)
// connected to a Redis Cluster node, which would answer MOVED for most
// keys, and a cluster client connected to a server without cluster
// support.
func CheckClient(ctx context.Context, client goredis.UniversalClient) error {
	if _, ok := client.(*goredis.ClusterClient); ok {
		if err := client.ClusterInfo(ctx).Err(); err != nil {
			if strings.Contains(err.Error(), "cluster support disabled") {
				return errors.New("redis: redis.cluster is set but the server is not a Redis Cluster node (cluster-enabled no); unset redis.cluster")
			}
			return translate("cluster info", err)
		}
		return nil
	}
	info, err := client.Info(ctx, "cluster").Result()
	if err != nil {
		return translate("info", err)
	}
	if strings.Contains(info, "cluster_enabled:1") {
		return errors.New("redis: the server is a Redis Cluster node, which a single-node client cannot use (it answers MOVED for other nodes' slots): set redis.cluster: true and list the cluster's nodes in redis.addresses")
	}
	return nil
}

// SetAcker makes every write a record's acknowledgement depends on (create,
// added recipients, uploaded, removed recipient, delete) wait for a's
// replicas before it returns (see Acker). Call it before the first use.
func (r *Records) SetAcker(a *Acker) { r.ack = a }

// Close implements storage.Records. It leaves the client open.
func (r *Records) Close() error { return nil }

// Ping implements storage.Records. It fails unless the records can be
// written: on a cluster, unless every master answers and the cluster's
// state is ok (not CLUSTERDOWN); on one server, unless a write succeeds
// there (a replica answers READONLY, a cluster node MOVED).
func (r *Records) Ping(ctx context.Context) error {
	if c, ok := r.client.(*goredis.ClusterClient); ok {
		err := c.ForEachMaster(ctx, func(ctx context.Context, m *goredis.Client) error {
			info, err := m.ClusterInfo(ctx).Result()
			if err != nil {
				return err
			}
			if !strings.Contains(info, "cluster_state:ok") {
				return errors.New("CLUSTERDOWN the cluster's state is not ok")
			}
			return nil
		})
		return translate("ping", err)
	}
	return translate("ping", r.client.Set(ctx, r.ready, "1", 10*time.Second).Err())
}

// Key names (see doc.go).

func groupTag(key string) string { return groupTags()[groupOf(key)] }

func (r *Records) groupKey(tag, name string) string { return r.prefix + "{" + tag + "}:" + name }

// chunkPrefix is the name of the record of each internal key of a group,
// without the key.
func (r *Records) chunkPrefix(tag string) string { return r.groupKey(tag, "c:") }

func (r *Records) chunkKey(key string) string { return r.chunkPrefix(groupTag(key)) + key }

// groupKeys returns the record, expiry index and sizes hash of a chunk.
func (r *Records) groupKeys(key string) []string {
	t := groupTag(key)
	return []string{r.chunkPrefix(t) + key, r.groupKey(t, "expiry"), r.groupKey(t, "sizes")}
}

// hashID names an ID without revealing it (see doc.go).
func hashID(id []byte) string {
	sum := sha256.Sum256(id)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func (r *Records) idKey(hid string) string { return r.prefix + "id:" + hid }

// senderKeyKey names the index entry of a hashed sender key (BySenderKey).
func (r *Records) senderKeyKey(hk string) string { return r.prefix + "skey:" + hk }

// An ID index entry holds a role byte and the internal key.
func entry(role storage.Role, key string) string { return string(rune(role)) + key }

// meta is the part of a record that never changes, as stored in field m.
type meta struct {
	SenderID  []byte `json:"s"`
	SenderKey []byte `json:"sk"`
	Size      int64  `json:"n"`
	Digest    []byte `json:"d"`
	CreatedAt int64  `json:"c"` // unix ns
	ExpiresAt int64  `json:"e"` // unix ns
}

func recipientLine(rc storage.Recipient) string {
	return hashID(rc.ID) + " " + base64.RawURLEncoding.EncodeToString(rc.ID) + " " +
		base64.RawURLEncoding.EncodeToString(rc.Key) + "\n"
}

// decode rebuilds a record from fields m, r and u of its chunk hash.
func decode(key, m, lines, uploaded string) (*storage.Record, error) {
	var d meta
	if err := json.Unmarshal([]byte(m), &d); err != nil {
		return nil, fmt.Errorf("redis records: corrupt record: %w", err)
	}
	rec := &storage.Record{
		Key: key, SenderID: d.SenderID, SenderKey: d.SenderKey, Size: d.Size, Uploaded: uploaded == "1",
		CreatedAt: time.Unix(0, d.CreatedAt), ExpiresAt: time.Unix(0, d.ExpiresAt),
	}
	copy(rec.Digest[:], d.Digest)
	for line := range strings.Lines(lines) {
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, errors.New("redis records: corrupt recipient list")
		}
		id, err1 := base64.RawURLEncoding.DecodeString(f[1])
		pub, err2 := base64.RawURLEncoding.DecodeString(f[2])
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("redis records: corrupt recipient list: %w", err)
		}
		rec.Recipients = append(rec.Recipients, storage.Recipient{ID: id, Key: pub})
	}
	return rec, nil
}

// partial is what remains known of a record whose chunk key has expired
// by TTL: enough to delete its body and release its quota.
func partial(key, size, score string) *storage.Record {
	rec := &storage.Record{Key: key}
	rec.Size, _ = strconv.ParseInt(size, 10, 64)
	if ms, err := strconv.ParseFloat(score, 64); err == nil {
		rec.ExpiresAt = time.UnixMilli(int64(ms))
	}
	return rec
}

// expiryScore is ExpiresAt in unix ms, rounded up so that Expired (which
// rounds now down) never returns a record before its time.
func expiryScore(t time.Time) int64 {
	ms := t.UnixMilli()
	if time.UnixMilli(ms).Before(t) {
		ms++
	}
	return ms
}

// call is one script call in a pipeline.
type call struct {
	script *goredis.Script
	keys   []string
	args   []any
	cmd    *goredis.Cmd
}

func newCall(s *goredis.Script, keys []string, args ...any) *call {
	return &call{script: s, keys: keys, args: args}
}

// pipeline sends calls and the commands more queues in one round trip (on
// a cluster, one per node, in parallel); each command keeps its own
// result. A call that reached a node without the script (a replica
// promoted since Open) is run again alone, which loads it.
func (r *Records) pipeline(ctx context.Context, calls []*call, more func(goredis.Pipeliner)) {
	p := r.client.Pipeline()
	for _, c := range calls {
		c.cmd = c.script.EvalSha(ctx, p, c.keys, c.args...)
	}
	if more != nil {
		more(p)
	}
	p.Exec(ctx) // errors stay with their commands
	for _, c := range calls {
		if err := c.cmd.Err(); err != nil && goredis.HasErrorPrefix(err, "NOSCRIPT") {
			c.cmd = c.script.Run(ctx, r.client, c.keys, c.args...)
		}
	}
}

// claim is an ID index entry a create or AddRecipients writes.
type claim struct {
	name, value string
	cmd         *goredis.StatusCmd
}

func (c *claim) set(ctx context.Context, p goredis.Pipeliner, deadline time.Time) {
	c.cmd = p.SetArgs(ctx, c.name, c.value, goredis.SetArgs{Mode: "NX", ExpireAt: deadline})
}

// taken reports whether the entry existed already; won whether it is ours.
func (c *claim) taken() bool { return errors.Is(c.cmd.Err(), goredis.Nil) }
func (c *claim) won() bool   { return c.cmd.Err() == nil }

// undoTimeout bounds the clean-up of a failed change; it runs even if the
// caller has gone.
const undoTimeout = 5 * time.Second

// undo removes what a failed create or AddRecipients wrote: the claims it
// won and the given calls. Whatever it cannot remove is found by nothing
// (a claim is checked against its record, an incomplete record is
// invisible) and goes by TTL or at expiry.
func (r *Records) undo(ctx context.Context, claims []*claim, calls ...*call) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
	defer cancel()
	for _, c := range claims {
		if c.won() {
			calls = append(calls, newCall(unclaimScript, []string{c.name}, c.value))
		}
	}
	if len(calls) > 0 {
		r.pipeline(ctx, calls, nil)
	}
}

// staleClaim is how old an incomplete record must be before a create may
// take over its sender key: older than any create still in flight (a
// create's two round trips, or its undo, bounded by undoTimeout). It must
// stay well inside a client's retry budget (60 s): a create cut off by a
// failover leaves such a record, and its retries are refused until then
// (with a minute, one CI run's upload gave up after 58 s of 503s).
const staleClaim = 3 * undoTimeout

// Create implements storage.Records. One round trip writes the record (in
// its group), reserves its size in the ledger and claims its ID and
// sender key index entries; a second marks the record complete, which
// makes it visible to Lookup and BySenderKey. If anything fails, what was
// written is removed again.
func (r *Records) Create(ctx context.Context, rec *storage.Record, quota int64) error {
	if !storage.ValidKey(rec.Key) {
		return fmt.Errorf("redis records: invalid key %q", rec.Key)
	}
	m, err := json.Marshal(meta{
		SenderID: rec.SenderID, SenderKey: rec.SenderKey, Size: rec.Size, Digest: rec.Digest[:],
		CreatedAt: rec.CreatedAt.UnixNano(), ExpiresAt: rec.ExpiresAt.UnixNano(),
	})
	if err != nil {
		return fmt.Errorf("redis records: %w", err)
	}
	senderHID, senderHK := hashID(rec.SenderID), hashID(rec.SenderKey)
	var lines strings.Builder
	claims := []*claim{
		{name: r.senderKeyKey(senderHK), value: entry(storage.RoleSender, rec.Key)},
		{name: r.idKey(senderHID), value: entry(storage.RoleSender, rec.Key)},
	}
	for _, rc := range rec.Recipients {
		claims = append(claims, &claim{name: r.idKey(hashID(rc.ID)), value: entry(storage.RoleRecipient, rec.Key)})
		lines.WriteString(recipientLine(rc))
	}
	deadline := time.Now()
	if rec.ExpiresAt.After(deadline) {
		deadline = rec.ExpiresAt
	}
	deadline = deadline.Add(ttlGrace).Truncate(time.Millisecond)
	gk := r.groupKeys(rec.Key)
	create := newCall(createScript, gk,
		rec.Key, rec.Size, expiryScore(rec.ExpiresAt), deadline.UnixMilli(), m, lines.String(), senderHID,
		luaBool(rec.Uploaded), senderHK, rec.Body)
	reserve := newCall(reserveScript, []string{r.usage}, rec.Size, quota)
	r.pipeline(ctx, []*call{create, reserve}, func(p goredis.Pipeliner) {
		for _, c := range claims {
			c.set(ctx, p, deadline)
		}
	})
	if claims[0].taken() && r.takeOver(ctx, claims[0], deadline) {
		claims[0].cmd = goredis.NewStatusResult("OK", nil)
	}
	created := create.cmd.Err() == nil && create.cmd.Val() == int64(statusOK)
	reserved := reserve.cmd.Err() == nil && reserve.cmd.Val() == int64(statusOK)
	var fail error
	for _, c := range claims {
		if c.taken() {
			fail = storage.ErrExists
		}
	}
	if fail == nil && create.cmd.Err() == nil && create.cmd.Val() == int64(statusExists) {
		fail = storage.ErrExists
	}
	for _, c := range []*goredis.Cmd{create.cmd, reserve.cmd} {
		if fail == nil && c.Err() != nil {
			fail = translate("create", c.Err())
		}
	}
	for _, c := range claims {
		if fail == nil && c.cmd.Err() != nil {
			fail = translate("create", c.cmd.Err())
		}
	}
	if fail == nil && !reserved {
		fail = storage.ErrQuota
	}
	if fail == nil {
		n, err := setFieldScript.Run(ctx, r.client, gk[:1], "c", "1").Int()
		switch {
		case err != nil:
			fail = translate("create", err)
		case n != statusOK:
			fail = fmt.Errorf("redis records: create: %w: the new record vanished", storage.ErrUnavailable)
		default:
			// The ledger is left out: a reservation lost in a failover
			// only undercounts usage (doc.go).
			names := []string{gk[0]}
			for _, c := range claims {
				names = append(names, c.name)
			}
			// Not undone if this fails: the record may survive, and the
			// client's retry finds it by its sender key (BySenderKey).
			return r.ack.Ack(ctx, names...)
		}
	}
	var undo []*call
	if created {
		undo = append(undo, newCall(deleteScript, gk, rec.Key, "0"))
	}
	if reserved {
		undo = append(undo, newCall(releaseScript, []string{r.usage}, rec.Size))
	}
	r.undo(ctx, claims, undo...)
	return fail
}

// takeOver takes a sender key's index entry whose record is gone or was
// never completed (a create that failed and could not clean up), so that
// the sender key is free again. It reports whether c is now ours.
func (r *Records) takeOver(ctx context.Context, c *claim, deadline time.Time) bool {
	old, err := r.client.Get(ctx, c.name).Result()
	if err != nil || len(old) < 2 || !storage.ValidKey(old[1:]) {
		return false
	}
	v, err := r.client.HMGet(ctx, r.chunkKey(old[1:]), "m", "c").Result()
	if err != nil {
		return false
	}
	if v[0] != nil {
		m, _ := v[0].(string)
		var d meta
		if done, _ := v[1].(string); done == "1" || json.Unmarshal([]byte(m), &d) != nil ||
			time.Since(time.Unix(0, d.CreatedAt)) < staleClaim {
			return false
		}
	}
	n, err := takeOverScript.Run(ctx, r.client, []string{c.name}, old, c.value, deadline.UnixMilli()).Int()
	return err == nil && n == 1
}

// takeOverScript replaces an index entry that still holds an old value.
//
//	KEYS: entry
//	ARGV: old value, new value, TTL deadline (unix ms)
var takeOverScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
	return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3])
return 1
`)

func luaBool(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func status(n int) error {
	switch n {
	case statusOK:
		return nil
	case statusNotFound:
		return storage.ErrNotFound
	case statusExists:
		return storage.ErrExists
	case statusQuota:
		return storage.ErrQuota
	}
	return fmt.Errorf("redis records: script answered %d", n)
}

// BySenderKey implements storage.Records.
// A record found is returned only once the replicas hold it: the server
// answers a create's retry with it, and the create's own wait for them
// may have failed.
func (r *Records) BySenderKey(ctx context.Context, k ed25519.PublicKey) (*storage.Record, error) {
	skey := r.senderKeyKey(hashID(k))
	rec, _, err := r.lookup(ctx, skey)
	if err != nil {
		return nil, err
	}
	names := []string{r.chunkKey(rec.Key), skey, r.idKey(hashID(rec.SenderID))}
	for _, rc := range rec.Recipients {
		names = append(names, r.idKey(hashID(rc.ID)))
	}
	if err := r.ack.Ack(ctx, names...); err != nil {
		return nil, err
	}
	return rec, nil
}

// Lookup implements storage.Records: two round trips, the ID's index
// entry (in the ID's slot) and then the record (in its group's). A
// recipient's lookup reads that recipient's own field, not the list.
func (r *Records) Lookup(ctx context.Context, id []byte) (*storage.Record, storage.Role, error) {
	hid := hashID(id)
	role, key, err := r.entry(ctx, r.idKey(hid))
	if err != nil {
		return nil, 0, err
	}
	if role != storage.RoleRecipient {
		rec, err := r.read(ctx, key)
		return rec, role, err
	}
	f, err := readRecipientScript.Run(ctx, r.client, []string{r.chunkKey(key)}, hid).StringSlice()
	if err != nil {
		return nil, 0, translate("lookup", err)
	}
	if len(f) != 6 {
		return nil, 0, errors.New("redis records: unexpected answer from lookup")
	}
	if f[1] == "" {
		// Gone, or a record written before recipients had their own
		// fields: read it whole and keep this recipient.
		rec, err := r.read(ctx, key)
		if err != nil {
			return nil, 0, err
		}
		rc, ok := rec.Recipient(id)
		if !ok {
			return nil, 0, storage.ErrNotFound
		}
		rec.Recipients = []storage.Recipient{rc}
		return rec, role, nil
	}
	rec, err := decodeFields(key, f)
	return rec, role, err
}

func (r *Records) lookup(ctx context.Context, idKey string) (*storage.Record, storage.Role, error) {
	role, key, err := r.entry(ctx, idKey)
	if err != nil {
		return nil, 0, err
	}
	rec, err := r.read(ctx, key)
	return rec, role, err
}

// entry reads an index entry: the role and the internal key it names.
func (r *Records) entry(ctx context.Context, idKey string) (storage.Role, string, error) {
	v, err := r.client.Get(ctx, idKey).Result()
	if err != nil {
		return 0, "", translate("lookup", err)
	}
	if len(v) < 2 || !storage.ValidKey(v[1:]) {
		return 0, "", errors.New("redis records: corrupt ID entry")
	}
	return storage.Role(v[0]), v[1:], nil
}

// read reads the complete record with key, every recipient included.
func (r *Records) read(ctx context.Context, key string) (*storage.Record, error) {
	f, err := readScript.Run(ctx, r.client, []string{r.chunkKey(key)}).StringSlice()
	if err != nil {
		return nil, translate("lookup", err)
	}
	if len(f) != 6 {
		return nil, errors.New("redis records: unexpected answer from lookup")
	}
	return decodeFields(key, f)
}

// decodeFields rebuilds a record from {meta, recipient lines, uploaded,
// downloaded count, acked count, body name}.
func decodeFields(key string, f []string) (*storage.Record, error) {
	rec, err := decode(key, f[0], f[1], f[2])
	if err != nil {
		return nil, err
	}
	rec.Body = f[5]
	rec.Downloaded, _ = strconv.Atoi(f[3])
	rec.Acked, _ = strconv.Atoi(f[4])
	return rec, nil
}

// AddRecipients implements storage.Records: the lines are appended to the
// record first, then the new IDs claimed; if one is taken, both are undone.
func (r *Records) AddRecipients(ctx context.Context, key string, rs []storage.Recipient) error {
	if !storage.ValidKey(key) {
		return storage.ErrNotFound
	}
	chunk := []string{r.chunkKey(key)}
	var lines strings.Builder
	undoLines := []any{}
	var claims []*claim
	for _, rc := range rs {
		l := recipientLine(rc)
		lines.WriteString(l)
		undoLines = append(undoLines, l)
		claims = append(claims, &claim{name: r.idKey(hashID(rc.ID)), value: entry(storage.RoleRecipient, key)})
	}
	v, err := appendRecipientsScript.Run(ctx, r.client, chunk, lines.String()).Slice()
	if err != nil {
		return translate("add recipients", err)
	}
	if len(v) != 2 {
		return storage.ErrNotFound
	}
	t, _ := v[1].(string)
	ms, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		return errors.New("redis records: corrupt TTL deadline")
	}
	p := r.client.Pipeline()
	for _, c := range claims {
		c.set(ctx, p, time.UnixMilli(ms))
	}
	p.Exec(ctx)
	var fail error
	for _, c := range claims {
		switch {
		case c.taken():
			fail = storage.ErrExists
		case fail == nil && c.cmd.Err() != nil:
			fail = translate("add recipients", c.cmd.Err())
		}
	}
	if fail != nil {
		r.undo(ctx, claims, newCall(dropLinesScript, chunk, undoLines...))
		return fail
	}
	names := chunk
	for _, c := range claims {
		names = append(names, c.name)
	}
	return r.ack.Ack(ctx, names...)
}

// SetUploaded implements storage.Records.
func (r *Records) SetUploaded(ctx context.Context, key, body string) (string, error) {
	if !storage.ValidKey(key) {
		return "", storage.ErrNotFound
	}
	v, err := setUploadedScript.Run(ctx, r.client, []string{r.chunkKey(key)}, body).Slice()
	if err != nil {
		return "", translate("set uploaded", err)
	}
	if len(v) != 2 {
		return "", storage.ErrNotFound
	}
	held, _ := v[1].(string)
	if held == "" {
		held = key // uploaded before body names
	}
	if err := r.ack.Ack(ctx, r.chunkKey(key)); err != nil {
		return "", err
	}
	return held, nil
}

// RemoveRecipient implements storage.Records: the recipient's line and
// its index entry go in one round trip.
func (r *Records) RemoveRecipient(ctx context.Context, key string, id []byte) error {
	if !storage.ValidKey(key) {
		return storage.ErrNotFound
	}
	hid := hashID(id)
	rm := newCall(removeRecipientScript, []string{r.chunkKey(key)}, hid)
	unclaim := newCall(unclaimScript, []string{r.idKey(hid)}, entry(storage.RoleRecipient, key))
	r.pipeline(ctx, []*call{rm, unclaim}, nil)
	n, err := rm.cmd.Int()
	if err == nil {
		err = unclaim.cmd.Err()
	}
	if err != nil {
		return translate("remove recipient", err)
	}
	// Also when not found: it may be this call's retry.
	if err := r.ack.Ack(ctx, r.chunkKey(key), r.idKey(hid)); err != nil {
		return err
	}
	return status(n)
}

// MarkDownloaded implements storage.Records.
func (r *Records) MarkDownloaded(ctx context.Context, key string, id []byte) (bool, error) {
	if !storage.ValidKey(key) {
		return false, storage.ErrNotFound
	}
	n, err := markDownloadedScript.Run(ctx, r.client, []string{r.chunkKey(key)}, hashID(id)).Int()
	if err != nil {
		return false, translate("mark downloaded", err)
	}
	if n == statusFirst {
		return true, nil
	}
	return false, status(n)
}

// Delete implements storage.Records. For a record whose chunk key has
// expired by TTL it returns the partial record (see doc.go).
func (r *Records) Delete(ctx context.Context, key string) (*storage.Record, error) {
	return r.delete(ctx, key, false)
}

// DeleteUnuploaded implements storage.Records.
func (r *Records) DeleteUnuploaded(ctx context.Context, key string) (*storage.Record, error) {
	return r.delete(ctx, key, true)
}

// delete removes the record in its group, then (a second round trip) its
// index entries and its share of the ledger. If that second step fails,
// the entries point at nothing and go by TTL; the ledger is off by the
// record's size (doc.go).
func (r *Records) delete(ctx context.Context, key string, onlyUnuploaded bool) (*storage.Record, error) {
	if !storage.ValidKey(key) {
		return nil, storage.ErrNotFound
	}
	v, err := deleteScript.Run(ctx, r.client, r.groupKeys(key), key, luaBool(onlyUnuploaded)).StringSlice()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, translate("delete", err)
	}
	// The record's removal, also when it was not found (this may be a
	// retry): its index entries, which point at nothing now, may go by
	// TTL.
	if aerr := r.ack.Ack(ctx, r.chunkKey(key)); aerr != nil {
		return nil, aerr
	}
	if err != nil {
		return nil, translate("delete", err)
	}
	if len(v) == 1 && v[0] == "uploaded" {
		return nil, storage.ErrExists
	}
	if len(v) != 8 {
		return nil, errors.New("redis records: unexpected answer from delete")
	}
	var calls []*call
	unclaim := func(name string, role storage.Role) {
		calls = append(calls, newCall(unclaimScript, []string{name}, entry(role, key)))
	}
	if v[5] != "" {
		unclaim(r.idKey(v[5]), storage.RoleSender)
	}
	if v[6] != "" {
		unclaim(r.senderKeyKey(v[6]), storage.RoleSender)
	}
	for line := range strings.Lines(v[1]) {
		if hid, _, ok := strings.Cut(line, " "); ok {
			unclaim(r.idKey(hid), storage.RoleRecipient)
		}
	}
	if v[3] != "" {
		calls = append(calls, newCall(releaseScript, []string{r.usage}, v[3]))
	}
	// The record is gone: finish even if the caller leaves now.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
	r.pipeline(cctx, calls, nil)
	cancel()
	if v[0] == "" {
		return partial(key, v[3], v[4]), nil
	}
	rec, err := decode(key, v[0], v[1], v[2])
	if err != nil {
		// The record is gone all the same; its key is what callers need.
		rec = partial(key, v[3], v[4])
	}
	rec.Body = v[7]
	return rec, nil
}

// expiredBatch is how many groups one round trip of Expired asks.
const expiredBatch = 64

// Expired implements storage.Records. It asks the groups in batches,
// starting from a different group each call, so that a group with many
// due records does not hide the others'.
func (r *Records) Expired(ctx context.Context, now time.Time, limit int) ([]*storage.Record, error) {
	if limit <= 0 {
		return nil, nil
	}
	tags := groupTags()
	start := int(r.cursor.Add(1))
	var out []*storage.Record
	for off := 0; off < numGroups && len(out) < limit; off += expiredBatch {
		var calls []*call
		for i := off; i < off+expiredBatch && i < numGroups; i++ {
			t := tags[(start+i)%numGroups]
			calls = append(calls, newCall(expiredScript,
				[]string{r.groupKey(t, "expiry"), r.groupKey(t, "sizes")}, now.UnixMilli(), limit-len(out), r.chunkPrefix(t)))
		}
		r.pipeline(ctx, calls, nil)
		for _, c := range calls {
			v, err := c.cmd.StringSlice()
			if err != nil {
				return nil, translate("expired", err)
			}
			for f := v; len(f) >= 7 && len(out) < limit; f = f[7:] {
				rec, err := decode(f[0], f[3], f[4], f[5])
				if f[3] == "" || err != nil {
					// Chunk key gone (or unreadable): the body still must go.
					rec = partial(f[0], f[2], f[1])
				}
				rec.Body = f[6]
				out = append(out, rec)
			}
		}
	}
	return out, nil
}

// Has implements storage.Records: true while the record holds quota, even
// if its chunk key has expired by TTL.
func (r *Records) Has(ctx context.Context, key string) (bool, error) {
	if !storage.ValidKey(key) {
		return false, nil
	}
	ok, err := r.client.HExists(ctx, r.groupKeys(key)[2], key).Result()
	return ok, translate("has", err)
}

// Usage implements storage.Records: the ledger, one key.
func (r *Records) Usage(ctx context.Context) (storage.Usage, error) {
	v, err := r.client.HMGet(ctx, r.usage, "chunks", "bytes").Result()
	if err != nil {
		return storage.Usage{}, translate("usage", err)
	}
	var u storage.Usage
	for i, p := range []*int64{&u.Chunks, &u.Bytes} {
		if s, ok := v[i].(string); ok {
			if *p, err = strconv.ParseInt(s, 10, 64); err != nil {
				return storage.Usage{}, fmt.Errorf("redis records: corrupt usage: %w", err)
			}
		}
	}
	return u, nil
}

// translate maps go-redis errors onto the storage sentinels.
func translate(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, goredis.Nil):
		return storage.ErrNotFound
	case unavailable(err):
		return fmt.Errorf("redis records: %s: %w: %w", op, storage.ErrUnavailable, err)
	}
	return fmt.Errorf("redis records: %s: %w", op, err)
}

// unavailable reports whether err means Redis cannot serve right now, as
// opposed to a canceled request or a bug.
func unavailable(err error) bool {
	var opErr *net.OpError
	if errors.As(err, &opErr) { // dial, read or write failed
		return true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false // the caller gave up
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, goredis.ErrPoolTimeout) || errors.Is(err, goredis.ErrPoolExhausted) {
		return true
	}
	// MOVED or ASK reaching the caller: a single-node client at a cluster
	// node (CheckClient refuses that at start-up) or a cluster client
	// that ran out of redirects while slots move.
	for _, p := range []string{"LOADING", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "READONLY", "OOM", "BUSY", "MISCONF", "NOREPLICAS", "MOVED", "ASK"} {
		if goredis.HasErrorPrefix(err, p) {
			return true
		}
	}
	return false
}
