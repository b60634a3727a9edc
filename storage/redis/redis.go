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
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/xftp/xftp/storage"
)

// ttlGrace is how long past its expiry (or its creation, if later) a
// record's keys live in Redis if no sweeper deletes it first.
const ttlGrace = time.Hour

// Records is a storage.Records on Redis.
type Records struct {
	client goredis.UniversalClient
	prefix string
	expiry string // sorted set: internal key by expiry
	sizes  string // hash: internal key -> size
	usage  string // hash: chunks, bytes
}

var _ storage.Records = (*Records)(nil)

// Open returns Records keeping its keys under prefix in client's database.
// It loads the scripts, which checks that Redis answers and runs Lua. The
// caller keeps owning client: Close does not close it.
func Open(ctx context.Context, client goredis.UniversalClient, prefix string) (*Records, error) {
	if client == nil {
		return nil, errors.New("redis records: no client")
	}
	switch client.(type) {
	case *goredis.ClusterClient, *goredis.Ring:
		if !hasHashTag(prefix) {
			return nil, fmt.Errorf("redis records: prefix %q needs a hash tag such as {xftp} so that all keys share one slot", prefix)
		}
	}
	r := &Records{
		client: client,
		prefix: prefix,
		expiry: prefix + "expiry",
		sizes:  prefix + "sizes",
		usage:  prefix + "usage",
	}
	for _, s := range allScripts {
		if err := s.Load(ctx, client).Err(); err != nil {
			return nil, translate("loading scripts", err)
		}
	}
	return r, nil
}

func hasHashTag(prefix string) bool {
	open := strings.IndexByte(prefix, '{')
	return open >= 0 && strings.IndexByte(prefix[open+1:], '}') > 0
}

// Close implements storage.Records. It leaves the client open.
func (r *Records) Close() error { return nil }

// Ping implements storage.Records.
func (r *Records) Ping(ctx context.Context) error {
	return translate("ping", r.client.Ping(ctx).Err())
}

func (r *Records) chunkKey(key string) string { return r.prefix + "chunk:" + key }

// hashID names an ID without revealing it (see doc.go).
func hashID(id []byte) string {
	sum := sha256.Sum256(id)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func (r *Records) idKey(hid string) string { return r.prefix + "id:" + hid }

// senderKeyKey names the index entry of a hashed sender key (BySenderKey).
func (r *Records) senderKeyKey(hk string) string { return r.prefix + "skey:" + hk }

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

// Create implements storage.Records.
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
	keys := []string{r.chunkKey(rec.Key), r.expiry, r.sizes, r.usage, r.senderKeyKey(senderHK), r.idKey(senderHID)}
	var lines strings.Builder
	for _, rc := range rec.Recipients {
		keys = append(keys, r.idKey(hashID(rc.ID)))
		lines.WriteString(recipientLine(rc))
	}
	deadline := time.Now()
	if rec.ExpiresAt.After(deadline) {
		deadline = rec.ExpiresAt
	}
	deadline = deadline.Add(ttlGrace)
	n, err := createScript.Run(ctx, r.client, keys,
		rec.Key, rec.Size, quota, expiryScore(rec.ExpiresAt), deadline.UnixMilli(),
		m, lines.String(), senderHID, luaBool(rec.Uploaded), senderHK).Int()
	if err != nil {
		return translate("create", err)
	}
	return status(n)
}

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

// BySenderKey implements storage.Records. The index entry has the form of
// a sender ID's, so the lookup script serves both.
func (r *Records) BySenderKey(ctx context.Context, k ed25519.PublicKey) (*storage.Record, error) {
	rec, _, err := r.lookup(ctx, r.senderKeyKey(hashID(k)))
	return rec, err
}

// Lookup implements storage.Records.
func (r *Records) Lookup(ctx context.Context, id []byte) (*storage.Record, storage.Role, error) {
	return r.lookup(ctx, r.idKey(hashID(id)))
}

func (r *Records) lookup(ctx context.Context, idKey string) (*storage.Record, storage.Role, error) {
	v, err := lookupScript.Run(ctx, r.client, []string{idKey}, r.prefix).StringSlice()
	if err != nil {
		return nil, 0, translate("lookup", err)
	}
	if len(v) != 6 || len(v[0]) < 2 {
		return nil, 0, errors.New("redis records: corrupt ID entry")
	}
	rec, err := decode(v[0][1:], v[1], v[2], v[3])
	if err != nil {
		return nil, 0, err
	}
	rec.Downloaded, _ = strconv.Atoi(v[4])
	rec.Acked, _ = strconv.Atoi(v[5])
	return rec, storage.Role(v[0][0]), nil
}

// AddRecipients implements storage.Records.
func (r *Records) AddRecipients(ctx context.Context, key string, rs []storage.Recipient) error {
	if !storage.ValidKey(key) {
		return storage.ErrNotFound
	}
	keys := []string{r.chunkKey(key)}
	var lines strings.Builder
	for _, rc := range rs {
		keys = append(keys, r.idKey(hashID(rc.ID)))
		lines.WriteString(recipientLine(rc))
	}
	n, err := addRecipientsScript.Run(ctx, r.client, keys, key, lines.String()).Int()
	if err != nil {
		return translate("add recipients", err)
	}
	return status(n)
}

// SetUploaded implements storage.Records.
func (r *Records) SetUploaded(ctx context.Context, key string) error {
	if !storage.ValidKey(key) {
		return storage.ErrNotFound
	}
	n, err := setUploadedScript.Run(ctx, r.client, []string{r.chunkKey(key)}).Int()
	if err != nil {
		return translate("set uploaded", err)
	}
	return status(n)
}

// RemoveRecipient implements storage.Records.
func (r *Records) RemoveRecipient(ctx context.Context, key string, id []byte) error {
	if !storage.ValidKey(key) {
		return storage.ErrNotFound
	}
	hid := hashID(id)
	n, err := removeRecipientScript.Run(ctx, r.client, []string{r.chunkKey(key), r.idKey(hid)}, key, hid).Int()
	if err != nil {
		return translate("remove recipient", err)
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

func (r *Records) delete(ctx context.Context, key string, onlyUnuploaded bool) (*storage.Record, error) {
	if !storage.ValidKey(key) {
		return nil, storage.ErrNotFound
	}
	v, err := deleteScript.Run(ctx, r.client, []string{r.chunkKey(key), r.expiry, r.sizes, r.usage}, key, r.prefix,
		luaBool(onlyUnuploaded)).StringSlice()
	if err != nil {
		return nil, translate("delete", err)
	}
	if len(v) == 1 && v[0] == "uploaded" {
		return nil, storage.ErrExists
	}
	if len(v) != 5 {
		return nil, errors.New("redis records: unexpected answer from delete")
	}
	if v[0] == "" {
		return partial(key, v[3], v[4]), nil
	}
	rec, err := decode(key, v[0], v[1], v[2])
	if err != nil {
		// The record is gone all the same; its key is what callers need.
		return partial(key, v[3], v[4]), nil
	}
	return rec, nil
}

// Expired implements storage.Records.
func (r *Records) Expired(ctx context.Context, now time.Time, limit int) ([]*storage.Record, error) {
	if limit <= 0 {
		return nil, nil
	}
	v, err := expiredScript.Run(ctx, r.client, []string{r.expiry, r.sizes}, now.UnixMilli(), limit, r.prefix).StringSlice()
	if err != nil {
		return nil, translate("expired", err)
	}
	var out []*storage.Record
	for f := v; len(f) >= 6; f = f[6:] {
		rec, err := decode(f[0], f[3], f[4], f[5])
		if f[3] == "" || err != nil {
			// Chunk key gone (or unreadable): the body still must go.
			rec = partial(f[0], f[2], f[1])
		}
		out = append(out, rec)
	}
	return out, nil
}

// Has implements storage.Records: true while the record holds quota, even
// if its chunk key has expired by TTL.
func (r *Records) Has(ctx context.Context, key string) (bool, error) {
	if !storage.ValidKey(key) {
		return false, nil
	}
	ok, err := r.client.HExists(ctx, r.sizes, key).Result()
	return ok, translate("has", err)
}

// Usage implements storage.Records.
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
	for _, p := range []string{"LOADING", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "READONLY", "OOM", "BUSY", "MISCONF", "NOREPLICAS"} {
		if goredis.HasErrorPrefix(err, p) {
			return true
		}
	}
	return false
}
