package redis

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/xftp/xftp/internal/testenv"
	"github.com/xftp/xftp/storage"
	"github.com/xftp/xftp/storage/storagetest"
)

// A deployment is one kind of Redis the tests run against.
type deployment struct {
	name string
	opts func(t *testing.T) ClientOptions
}

var deployments = []deployment{
	{"Standalone", func(t *testing.T) ClientOptions {
		return ClientOptions{Addresses: []string{testenv.Redis(t)}}
	}},
	{"Cluster", clusterOptions},
	{"Sentinel", func(t *testing.T) ClientOptions {
		sentinels, master := testenv.RedisSentinel(t)
		return ClientOptions{Addresses: sentinels, MasterName: master}
	}},
}

// clusterOptions names the 6-node cluster of testenv.RedisCluster.
func clusterOptions(t *testing.T) ClientOptions {
	return ClientOptions{Addresses: testenv.RedisCluster(t), Cluster: true}
}

// forEach runs fn as a subtest on every deployment.
func forEach(t *testing.T, fn func(t *testing.T, o ClientOptions)) {
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) { fn(t, d.opts(t)) })
	}
}

func dial(t *testing.T, o ClientOptions) goredis.UniversalClient {
	t.Helper()
	c, err := NewClient(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func newClient(t *testing.T, addr string) *goredis.Client {
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	return c
}

// keys returns the names matching pattern, on every master of a cluster.
func keys(ctx context.Context, c goredis.UniversalClient, pattern string) []string {
	var out []string
	var mu sync.Mutex
	scan := func(ctx context.Context, n goredis.UniversalClient) error {
		iter := n.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			out = append(out, iter.Val())
			mu.Unlock()
		}
		return iter.Err()
	}
	if cc, ok := c.(*goredis.ClusterClient); ok {
		cc.ForEachMaster(ctx, func(ctx context.Context, n *goredis.Client) error { return scan(ctx, n) })
		return out
	}
	scan(ctx, c)
	return out
}

// newPrefix returns a prefix no other test uses, and deletes its keys when
// the test ends (the server is shared: never FLUSHALL).
func newPrefix(t *testing.T, c goredis.UniversalClient) string {
	b := make([]byte, 6)
	rand.Read(b)
	prefix := "xftptest:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		for _, k := range keys(ctx, c, prefix+"*") {
			c.Del(ctx, k)
		}
	})
	return prefix
}

func openTemp(t *testing.T) (*Records, goredis.UniversalClient) {
	return openOn(t, ClientOptions{Addresses: []string{testenv.Redis(t)}})
}

func openOn(t *testing.T, o ClientOptions) (*Records, goredis.UniversalClient) {
	t.Helper()
	c := dial(t, o)
	r, err := Open(t.Context(), c, newPrefix(t, c))
	if err != nil {
		t.Fatal(err)
	}
	return r, c
}

// TestContract runs the contract with xftpd's default acknowledgements:
// every write waits for a replica (WAIT), or for none where the master has
// none (the standalone server).
func TestContract(t *testing.T) {
	forEach(t, func(t *testing.T, o ClientOptions) {
		storagetest.TestRecords(t, func(t *testing.T) storage.Records {
			r, c := openOn(t, o)
			r.SetAcker(NewAcker(c, r.prefix, 1, 0))
			return r
		})
	})
}

// TestTwoReplicas races Create and Delete from two Records on separate
// connections, as two servers would, and checks that quota stays exact.
func TestTwoReplicas(t *testing.T) { forEach(t, testTwoReplicas) }

func testTwoReplicas(t *testing.T, o ClientOptions) {
	ca, cb := dial(t, o), dial(t, o)
	prefix := newPrefix(t, ca)
	ctx := t.Context()
	var replicas [2]*Records
	for i, c := range []goredis.UniversalClient{ca, cb} {
		var err error
		if replicas[i], err = Open(ctx, c, prefix); err != nil {
			t.Fatal(err)
		}
	}
	const quota = 20000 // reached within the 960 creates, with hundreds succeeding first
	var (
		mu      sync.Mutex
		kept    []*storage.Record
		created int
		wg      sync.WaitGroup
	)
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 30 {
				rec := storagetest.NewRecord(int64(1+mrand.IntN(200)), 1, time.Hour)
				err := replicas[(w+i)%2].Create(ctx, rec, quota)
				if errors.Is(err, storage.ErrQuota) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				created++
				mu.Unlock()
				if i%3 == 0 {
					mu.Lock()
					kept = append(kept, rec)
					mu.Unlock()
					continue
				}
				// Both replicas delete it at once: exactly one may win.
				var deleted [2]error
				var dw sync.WaitGroup
				for j := range replicas {
					dw.Go(func() { _, deleted[j] = replicas[j].Delete(ctx, rec.Key) })
				}
				dw.Wait()
				wins := 0
				for _, err := range deleted {
					switch {
					case err == nil:
						wins++
					case !errors.Is(err, storage.ErrNotFound):
						t.Error(err)
					}
				}
				if wins != 1 {
					t.Errorf("%d Deletes of one record succeeded", wins)
				}
			}
		}()
	}
	wg.Wait()
	var want storage.Usage
	for _, rec := range kept {
		want.Chunks++
		want.Bytes += rec.Size
	}
	for i, r := range replicas {
		got, err := r.Usage(ctx)
		if err != nil || got != want {
			t.Fatalf("replica %d: usage %+v, %v; want %+v", i, got, err, want)
		}
	}
	if want.Bytes > quota {
		t.Fatalf("usage %d exceeds quota %d", want.Bytes, quota)
	}
	if created < 100 {
		t.Fatalf("only %d creates succeeded; the race was not exercised", created)
	}
	t.Logf("%d creates, %d records kept, usage %+v", created, len(kept), want)
}

// TestTTLFired checks the safety net: once Redis has expired a record's
// keys, the sweeper still sees the record and its quota is released once.
func TestTTLFired(t *testing.T) { forEach(t, testTTLFired) }

func testTTLFired(t *testing.T, o ClientOptions) {
	r, c := openOn(t, o)
	ctx := t.Context()
	rec := storagetest.NewRecord(700, 2, -time.Minute)
	if err := r.Create(ctx, rec, 0); err != nil {
		t.Fatal(err)
	}
	keys := []string{r.chunkKey(rec.Key), r.idKey(hashID(rec.SenderID))}
	for _, rc := range rec.Recipients {
		keys = append(keys, r.idKey(hashID(rc.ID)))
	}
	for _, k := range keys {
		if ttl := c.PTTL(ctx, k).Val(); ttl < ttlGrace-2*time.Minute || ttl > ttlGrace {
			t.Fatalf("TTL of %s is %v, want about %v", k, ttl, ttlGrace)
		}
		c.PExpire(ctx, k, time.Millisecond)
	}
	testenv.Eventually(t, 10*time.Second, func() bool { // one key at a time: a cluster's keys sit in several slots
		for _, k := range keys {
			if n, err := c.Exists(ctx, k).Result(); err != nil || n != 0 {
				return false
			}
		}
		return true
	}, "keys outlived their TTL")

	if _, _, err := r.Lookup(ctx, rec.Recipients[0].ID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Lookup after TTL: %v", err)
	}
	if ok, err := r.Has(ctx, rec.Key); !ok || err != nil {
		t.Fatalf("Has after TTL = %v, %v; want true until swept", ok, err)
	}
	exp, err := r.Expired(ctx, time.Now(), 10)
	if err != nil || len(exp) != 1 || exp[0].Key != rec.Key || exp[0].Size != 700 ||
		!exp[0].ExpiresAt.Equal(rec.ExpiresAt) {
		t.Fatalf("Expired after TTL = %+v, %v", exp, err)
	}
	del, err := r.Delete(ctx, rec.Key)
	if err != nil || del.Key != rec.Key || del.Size != 700 {
		t.Fatalf("Delete after TTL = %+v, %v", del, err)
	}
	if u, _ := r.Usage(ctx); u != (storage.Usage{}) {
		t.Fatalf("usage after Delete: %+v", u)
	}
	if _, err := r.Delete(ctx, rec.Key); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("second Delete: %v", err)
	}
	if ok, _ := r.Has(ctx, rec.Key); ok {
		t.Fatal("Has after Delete")
	}
	if exp, _ := r.Expired(ctx, time.Now(), 10); len(exp) != 0 {
		t.Fatalf("Expired after Delete: %d records", len(exp))
	}
}

// TestKeyNames checks that no key name shows a wire ID or its base64, and
// that the bookkeeping keys carry no TTL.
func TestKeyNames(t *testing.T) {
	r, c := openTemp(t)
	ctx := t.Context()
	rec := storagetest.NewRecord(10, 3, time.Hour)
	if err := r.Create(ctx, rec, 0); err != nil {
		t.Fatal(err)
	}
	names := keys(ctx, c, r.prefix+"*")
	if len(names) != 9 { // chunk, 4 IDs, sender key, expiry, sizes, usage
		t.Fatalf("keys: %q", names)
	}
	ids := [][]byte{rec.SenderID, rec.SenderKey}
	for _, rc := range rec.Recipients {
		ids = append(ids, rc.ID)
	}
	for _, n := range names {
		for _, id := range ids {
			for _, form := range []string{string(id), hex.EncodeToString(id), base64.RawURLEncoding.EncodeToString(id), base64.StdEncoding.EncodeToString(id)} {
				if strings.Contains(n, form) {
					t.Fatalf("key %q shows an ID", n)
				}
			}
		}
	}
	for _, k := range append(r.groupKeys(rec.Key)[1:], r.usage) {
		if ttl := c.PTTL(ctx, k).Val(); ttl != -1 {
			t.Fatalf("%s has TTL %v", k, ttl)
		}
	}
}

// proxy forwards TCP connections to addr until stopped; then its port is
// closed and every connection through it is cut.
type proxy struct {
	l     net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func startProxy(t *testing.T, addr string) *proxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{l: l}
	t.Cleanup(p.stop)
	go func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", addr)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, in, out)
			p.mu.Unlock()
			go func() { io.Copy(out, in); out.Close() }()
			go func() { io.Copy(in, out); in.Close() }()
		}
	}()
	return p
}

func (p *proxy) stop() {
	p.l.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

func TestUnavailable(t *testing.T) {
	addr := testenv.Redis(t)
	ctx := t.Context()
	t.Run("Open", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closed := l.Addr().String()
		l.Close()
		c := goredis.NewClient(&goredis.Options{Addr: closed, MaxRetries: 1, DialerRetries: 1})
		defer c.Close()
		if _, err := Open(ctx, c, "xftptest:"); !errors.Is(err, storage.ErrUnavailable) {
			t.Fatalf("Open on a closed port: %v, want ErrUnavailable", err)
		}
	})
	t.Run("ConnectionLost", func(t *testing.T) {
		p := startProxy(t, addr)
		c := goredis.NewClient(&goredis.Options{Addr: p.l.Addr().String(), MaxRetries: 1, DialerRetries: 1})
		defer c.Close()
		r, err := Open(ctx, c, newPrefix(t, newClient(t, addr)))
		if err != nil {
			t.Fatal(err)
		}
		rec := storagetest.NewRecord(10, 1, time.Hour)
		if err := r.Create(ctx, rec, 0); err != nil {
			t.Fatal(err)
		}
		p.stop()
		ops := map[string]func() error{
			"Create": func() error { return r.Create(ctx, storagetest.NewRecord(1, 1, time.Hour), 0) },
			"Lookup": func() error { _, _, err := r.Lookup(ctx, rec.SenderID); return err },
			"AddRecipients": func() error {
				return r.AddRecipients(ctx, rec.Key, storagetest.NewRecord(1, 1, 0).Recipients)
			},
			"SetUploaded":     func() error { _, err := r.SetUploaded(ctx, rec.Key, storage.NewBodyName(rec.Key)); return err },
			"RemoveRecipient": func() error { return r.RemoveRecipient(ctx, rec.Key, rec.Recipients[0].ID) },
			"Delete":          func() error { _, err := r.Delete(ctx, rec.Key); return err },
			"Expired":         func() error { _, err := r.Expired(ctx, time.Now(), 1); return err },
			"Has":             func() error { _, err := r.Has(ctx, rec.Key); return err },
			"Usage":           func() error { _, err := r.Usage(ctx); return err },
			"Ping":            func() error { return r.Ping(ctx) },
		}
		for name, op := range ops {
			if err := op(); !errors.Is(err, storage.ErrUnavailable) {
				t.Errorf("%s after the connection was lost: %v, want ErrUnavailable", name, err)
			}
		}
	})
}

func TestPrefix(t *testing.T) {
	for prefix, ok := range map[string]bool{"": true, "xftp:": true, "{xftp}:": false, "a{b": false, "a}": false} {
		if err := CheckPrefix(prefix); (err == nil) != ok {
			t.Errorf("CheckPrefix(%q) = %v", prefix, err)
		}
	}
}

// TestGroupTags checks that group g's tag lands in its slot range, and
// pins a few tags: changing the table would lose every stored record.
func TestGroupTags(t *testing.T) {
	tags := groupTags()
	for g, tag := range tags {
		if s := Slot("{" + tag + "}x"); s/slotsPerGroup != g {
			t.Fatalf("group %d: tag %q is in slot %d", g, tag, s)
		}
	}
	// Redis' own examples: CLUSTER KEYSLOT.
	for key, slot := range map[string]int{"foo": 12182, "{user1000}.following": 3443, "{user1000}.followers": 3443, "a{}b": 13694} {
		if got := Slot(key); got != slot {
			t.Errorf("Slot(%q) = %d, want %d", key, got, slot)
		}
	}
	for g, want := range map[int]string{0: "ru", 1: "2ke", 1023: "wu"} {
		if tags[g] != want {
			t.Errorf("group %d's tag is %q, want %q: the table changed, and records stored under the old one are lost", g, tags[g], want)
		}
	}
}

func TestNonces(t *testing.T) { forEach(t, testNonces) }

func testNonces(t *testing.T, o ClientOptions) {
	client := dial(t, o)
	n := NewNonces(client, newPrefix(t, client))
	ctx := context.Background()
	nonce := []byte("0123456789abcdef")
	until := time.Now().Add(time.Minute)
	if fresh, err := n.Use(ctx, nonce, until); !fresh || err != nil {
		t.Fatalf("first use: %v %v", fresh, err)
	}
	// A second replica sharing the Redis sees the nonce as spent.
	n2 := NewNonces(client, n.prefix)
	if fresh, err := n2.Use(ctx, nonce, until); fresh || err != nil {
		t.Fatalf("replayed nonce: %v %v", fresh, err)
	}
	if fresh, _ := n.Use(ctx, []byte("fedcba9876543210"), until); !fresh {
		t.Fatal("another nonce was refused")
	}
}

// TestSpread creates records on the cluster and counts their keys on each
// master: every master must hold a share.
func TestSpread(t *testing.T) {
	o := clusterOptions(t)
	r, c := openOn(t, o)
	ctx := t.Context()
	const n = 300
	for range n {
		if err := r.Create(ctx, storagetest.NewRecord(10, 1, time.Hour), 0); err != nil {
			t.Fatal(err)
		}
	}
	cc := c.(*goredis.ClusterClient)
	var mu sync.Mutex
	perMaster := map[string][2]int{} // address: records, all keys
	err := cc.ForEachMaster(ctx, func(ctx context.Context, m *goredis.Client) error {
		var chunks, all int
		iter := m.Scan(ctx, 0, r.prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			all++
			if strings.Contains(iter.Val(), "}:c:") {
				chunks++
			}
		}
		mu.Lock()
		perMaster[m.Options().Addr] = [2]int{chunks, all}
		mu.Unlock()
		return iter.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(perMaster) != 3 {
		t.Fatalf("%d masters, want 3", len(perMaster))
	}
	total := 0
	for addr, v := range perMaster {
		t.Logf("master %s: %d records, %d keys", addr, v[0], v[1])
		total += v[0]
		if v[0] < n/10 {
			t.Errorf("master %s holds %d of %d records", addr, v[0], n)
		}
	}
	if total != n {
		t.Fatalf("%d records found, want %d", total, n)
	}
}

// TestCheckClient: a single-node client at a cluster node, or a cluster
// client at a standalone server, is refused with a message that says what
// to set.
func TestCheckClient(t *testing.T) {
	ctx := t.Context()
	node := clusterOptions(t).Addresses[0]
	single := newClient(t, node)
	if _, err := Open(ctx, single, "xftptest:"); err == nil || !strings.Contains(err.Error(), "redis.cluster: true") {
		t.Fatalf("single-node client at a cluster node: %v", err)
	}
	cluster := dial(t, ClientOptions{Addresses: []string{testenv.Redis(t)}, Cluster: true})
	if _, err := Open(ctx, cluster, "xftptest:"); err == nil || !strings.Contains(err.Error(), "unset redis.cluster") {
		t.Fatalf("cluster client at a standalone server: %v", err)
	}
	if _, err := NewClient(ClientOptions{Addresses: []string{"a:1", "b:1"}}); err == nil {
		t.Fatal("several addresses without cluster or sentinel")
	}
}

// TestPingReplica: Ping fails on a replica, which refuses writes, so that
// /readyz takes a replica out of service.
func TestPingReplica(t *testing.T) {
	ctx := t.Context()
	o := deployments[2].opts(t)
	sentinel := goredis.NewSentinelClient(&goredis.Options{Addr: o.Addresses[0]})
	defer sentinel.Close()
	replicas, err := sentinel.Replicas(ctx, o.MasterName).Result()
	if err != nil || len(replicas) == 0 {
		t.Fatalf("SENTINEL REPLICAS: %v, %v", replicas, err)
	}
	ip, port := replicas[0]["ip"], replicas[0]["port"]
	replica := newClient(t, net.JoinHostPort(ip, port))
	r, err := Open(ctx, replica, "xftptest:")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Ping(ctx); !errors.Is(err, storage.ErrUnavailable) || !strings.Contains(err.Error(), "READONLY") {
		t.Fatalf("Ping on a replica: %v", err)
	}
	rc, _ := openOn(t, clusterOptions(t))
	if err := rc.Ping(ctx); err != nil {
		t.Fatalf("Ping on the cluster: %v", err)
	}
}

// TestFailedCreateLeavesNothing: a create refused because an ID is taken
// removes what its pipeline wrote (record, ledger share, index entries).
func TestFailedCreateLeavesNothing(t *testing.T) { forEach(t, testFailedCreateLeavesNothing) }

func testFailedCreateLeavesNothing(t *testing.T, o ClientOptions) {
	r, c := openOn(t, o)
	ctx := t.Context()
	first := storagetest.NewRecord(10, 1, time.Hour)
	if err := r.Create(ctx, first, 0); err != nil {
		t.Fatal(err)
	}
	before := len(keys(ctx, c, r.prefix+"*"))
	dup := storagetest.NewRecord(10, 3, time.Hour)
	dup.Recipients[2].ID = first.Recipients[0].ID
	if err := r.Create(ctx, dup, 0); !errors.Is(err, storage.ErrExists) {
		t.Fatalf("Create with a taken ID: %v", err)
	}
	if after := keys(ctx, c, r.prefix+"*"); len(after) != before {
		t.Fatalf("%d keys after the refused create, %d before: %q", len(after), before, after)
	}
	if u, _ := r.Usage(ctx); u != (storage.Usage{Chunks: 1, Bytes: 10}) {
		t.Fatalf("usage after the refused create: %+v", u)
	}
}

// TestStaleSenderKey: a sender key whose index entry points at a record
// that is gone (a create that failed and could not clean up) is free.
func TestStaleSenderKey(t *testing.T) {
	r, c := openTemp(t)
	ctx := t.Context()
	rec := storagetest.NewRecord(10, 1, time.Hour)
	c.Set(ctx, r.senderKeyKey(hashID(rec.SenderKey)), entry(storage.RoleSender, storage.NewKey()), time.Hour)
	if err := r.Create(ctx, rec, 0); err != nil {
		t.Fatalf("Create over a stale sender key entry: %v", err)
	}
	if got, err := r.BySenderKey(ctx, rec.SenderKey); err != nil || got.Key != rec.Key {
		t.Fatalf("BySenderKey = %+v, %v", got, err)
	}
	// A live record's sender key is not taken over.
	again := storagetest.NewRecord(10, 1, time.Hour)
	again.SenderKey = rec.SenderKey
	if err := r.Create(ctx, again, 0); !errors.Is(err, storage.ErrExists) {
		t.Fatalf("Create with a live record's sender key: %v", err)
	}
}

// TestMigrateOldLayout writes a record as the single-slot layout of earlier
// versions did ({prefix}:chunk:..., one expiry set, sizes hash and ledger)
// and checks that Open moves it: found by its IDs and sender key, counted
// in Usage, deleted normally, and no old key left.
func TestMigrateOldLayout(t *testing.T) {
	c := newClient(t, testenv.Redis(t))
	ctx := t.Context()
	prefix := newPrefix(t, c)
	old := "{" + strings.TrimSuffix(prefix, ":") + "}:"
	t.Cleanup(func() {
		for _, k := range keys(context.Background(), c, old+"*") {
			c.Del(context.Background(), k)
		}
	})
	rec := storagetest.NewRecord(700, 2, time.Hour)
	m, _ := json.Marshal(meta{SenderID: rec.SenderID, SenderKey: rec.SenderKey, Size: rec.Size, Digest: rec.Digest[:],
		CreatedAt: rec.CreatedAt.UnixNano(), ExpiresAt: rec.ExpiresAt.UnixNano()})
	var lines strings.Builder
	for _, rc := range rec.Recipients {
		lines.WriteString(recipientLine(rc))
	}
	deadline := rec.ExpiresAt.Add(ttlGrace)
	sh, hk := hashID(rec.SenderID), hashID(rec.SenderKey)
	c.HSet(ctx, old+"chunk:"+rec.Key, "m", string(m), "r", lines.String(), "u", "1", "s", sh, "t", deadline.UnixMilli(), "k", hk)
	c.PExpireAt(ctx, old+"chunk:"+rec.Key, deadline)
	c.Set(ctx, old+"id:"+sh, "\x01"+rec.Key, time.Until(deadline))
	c.Set(ctx, old+"skey:"+hk, "\x01"+rec.Key, time.Until(deadline))
	for _, rc := range rec.Recipients {
		c.Set(ctx, old+"id:"+hashID(rc.ID), "\x02"+rec.Key, time.Until(deadline))
	}
	c.ZAdd(ctx, old+"expiry", goredis.Z{Score: float64(expiryScore(rec.ExpiresAt)), Member: rec.Key})
	c.HSet(ctx, old+"sizes", rec.Key, 700)
	c.HIncrBy(ctx, old+"usage", "chunks", 1)
	c.HIncrBy(ctx, old+"usage", "bytes", 700)

	r, err := Open(ctx, c, prefix)
	if err != nil {
		t.Fatal(err)
	}
	if left := keys(ctx, c, old+"*"); len(left) != 0 {
		t.Fatalf("old keys left: %q", left)
	}
	// A recipient's lookup carries that recipient only (the contract).
	for i, id := range [][]byte{rec.SenderID, rec.Recipients[0].ID, rec.Recipients[1].ID} {
		got, _, err := r.Lookup(ctx, id)
		if err != nil || got.Key != rec.Key || !got.Uploaded || got.BodyName() != rec.Key || len(got.Recipients) != map[bool]int{true: 2, false: 1}[i == 0] {
			t.Fatalf("Lookup %d after the move: %+v, %v", i, got, err)
		}
	}
	if got, err := r.BySenderKey(ctx, rec.SenderKey); err != nil || got.Key != rec.Key {
		t.Fatalf("BySenderKey after the move: %+v, %v", got, err)
	}
	if u, err := r.Usage(ctx); err != nil || u != (storage.Usage{Chunks: 1, Bytes: 700}) {
		t.Fatalf("Usage after the move: %+v, %v", u, err)
	}
	if ttl := c.PTTL(ctx, r.chunkKey(rec.Key)).Val(); ttl < ttlGrace {
		t.Fatalf("moved record's TTL %v", ttl)
	}
	// A second Open finds nothing to move and changes nothing.
	if _, err := Open(ctx, c, prefix); err != nil {
		t.Fatal(err)
	}
	if u, _ := r.Usage(ctx); u != (storage.Usage{Chunks: 1, Bytes: 700}) {
		t.Fatalf("Usage after a second Open: %+v", u)
	}
	if _, err := r.Delete(ctx, rec.Key); err != nil {
		t.Fatal(err)
	}
	if u, _ := r.Usage(ctx); u != (storage.Usage{}) {
		t.Fatalf("Usage after Delete: %+v", u)
	}
	if _, _, err := r.Lookup(ctx, rec.SenderID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Lookup after Delete: %v", err)
	}
}

// BenchmarkRecipientLookup: a recipient's lookup reads its own field, not
// the chunk's recipient list (compare the sub-benchmarks' ns/op).
func BenchmarkRecipientLookup(b *testing.B) {
	addr := testenv.Redis(b)
	for _, n := range []int{10, 10000} {
		b.Run(fmt.Sprintf("recipients=%d", n), func(b *testing.B) {
			c, err := NewClient(ClientOptions{Addresses: []string{addr}})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			var pfx [6]byte
			rand.Read(pfx[:])
			r, err := Open(b.Context(), c, "bench"+hex.EncodeToString(pfx[:])+":")
			if err != nil {
				b.Fatal(err)
			}
			rec := storagetest.NewRecord(65536, 1, time.Hour)
			if err := r.Create(b.Context(), rec, 0); err != nil {
				b.Fatal(err)
			}
			defer r.Delete(context.Background(), rec.Key)
			for added := 1; added < n; added += 200 {
				if err := r.AddRecipients(b.Context(), rec.Key, storagetest.NewRecord(65536, min(200, n-added), time.Hour).Recipients); err != nil {
					b.Fatal(err)
				}
			}
			id := rec.Recipients[0].ID
			for b.Loop() {
				if _, _, err := r.Lookup(b.Context(), id); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
