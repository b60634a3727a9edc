package redis

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	mrand "math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/xftp/xftp/storage"
	"github.com/xftp/xftp/storage/storagetest"
)

// testAddr returns the Redis named by XFTP_TEST_REDIS. Without it the test
// is skipped, or fails under CI=true.
func testAddr(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("XFTP_TEST_REDIS")
	if addr == "" {
		const msg = "XFTP_TEST_REDIS not set; run scripts/test"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg) // not under CI: the check above fails there
	}
	return addr
}

func newClient(t *testing.T, addr string) *goredis.Client {
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	return c
}

// newPrefix returns a prefix no other test uses, and deletes its keys when
// the test ends (the server is shared: never FLUSHALL).
func newPrefix(t *testing.T, c goredis.UniversalClient) string {
	b := make([]byte, 6)
	rand.Read(b)
	prefix := "xftptest:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return prefix
}

func openTemp(t *testing.T) (*Records, *goredis.Client) {
	t.Helper()
	c := newClient(t, testAddr(t))
	r, err := Open(t.Context(), c, newPrefix(t, c))
	if err != nil {
		t.Fatal(err)
	}
	return r, c
}

func TestContract(t *testing.T) {
	testAddr(t)
	storagetest.TestRecords(t, func(t *testing.T) storage.Records {
		r, _ := openTemp(t)
		return r
	})
}

// TestTwoReplicas races Create and Delete from two Records on separate
// connections, as two servers would, and checks that quota stays exact.
func TestTwoReplicas(t *testing.T) {
	addr := testAddr(t)
	ca, cb := newClient(t, addr), newClient(t, addr)
	prefix := newPrefix(t, ca)
	ctx := t.Context()
	var replicas [2]*Records
	for i, c := range []*goredis.Client{ca, cb} {
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
func TestTTLFired(t *testing.T) {
	r, c := openTemp(t)
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
	time.Sleep(20 * time.Millisecond)

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
	var names []string
	iter := c.Scan(ctx, 0, r.prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		names = append(names, iter.Val())
	}
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
	for _, k := range []string{r.expiry, r.sizes, r.usage} {
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
	addr := testAddr(t)
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
			"SetUploaded":     func() error { return r.SetUploaded(ctx, rec.Key) },
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

func TestHashTag(t *testing.T) {
	for prefix, want := range map[string]bool{
		"": false, "xftp:": false, "{xftp}:": true, "a{b}c": true, "{}": false, "x{": false, "}{a}": true,
	} {
		if got := hasHashTag(prefix); got != want {
			t.Errorf("hasHashTag(%q) = %v", prefix, got)
		}
	}
	c := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
	defer c.Close()
	if _, err := Open(t.Context(), c, "xftp:"); err == nil || !strings.Contains(err.Error(), "hash tag") {
		t.Fatalf("Open of a cluster client without a hash tag: %v", err)
	}
}

func TestNonces(t *testing.T) {
	client := newClient(t, testAddr(t))
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
