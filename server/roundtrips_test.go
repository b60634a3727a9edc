package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/xftp/xftp/identity"
	"github.com/xftp/xftp/internal/testenv"
	"github.com/xftp/xftp/storage"
	"github.com/xftp/xftp/storage/disk"
	"github.com/xftp/xftp/storage/redis"
)

// countingHook counts sequential Redis round trips: a command is one, a
// pipeline is one however many nodes it spans (they are asked in
// parallel); commands counts what the servers execute.
type countingHook struct{ trips, commands atomic.Int64 }

func (h *countingHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (h *countingHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		h.trips.Add(1)
		h.commands.Add(1)
		return next(ctx, cmd)
	}
}
func (h *countingHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		h.trips.Add(1)
		h.commands.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// countingStore counts chunk store calls (each is one S3 request).
type countingStore struct {
	storage.Store
	calls atomic.Int64
}

func (s *countingStore) Put(ctx context.Context, k string, r io.Reader, n int64) error {
	s.calls.Add(1)
	return s.Store.Put(ctx, k, r, n)
}
func (s *countingStore) Get(ctx context.Context, k string) (io.ReadCloser, int64, error) {
	s.calls.Add(1)
	return s.Store.Get(ctx, k)
}
func (s *countingStore) Delete(ctx context.Context, k string) error {
	s.calls.Add(1)
	return s.Store.Delete(ctx, k)
}

// TestRoundTrips measures the Redis round trips and chunk store calls of
// each request on a standalone Redis and on the cluster, for
// docs/SCALING.md. A cluster's hook on the ClusterClient sees each command
// once, as the standalone one does.
func TestRoundTrips(t *testing.T) {
	t.Run("Standalone", func(t *testing.T) {
		roundTrips(t, redis.ClientOptions{Addresses: []string{testenv.Redis(t)}})
	})
	t.Run("Cluster", func(t *testing.T) {
		roundTrips(t, redis.ClientOptions{Addresses: testenv.RedisCluster(t), Cluster: true})
	})
}

func roundTrips(t *testing.T, o redis.ClientOptions) {
	ctx := context.Background()
	client, err := redis.NewClient(o)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	prefix := fmt.Sprintf("xftptest-rt-%d:", time.Now().UnixNano())
	records, err := redis.Open(ctx, client, prefix)
	if err != nil {
		t.Fatal(err)
	}
	hook := &countingHook{}
	client.AddHook(hook)
	dir := t.TempDir()
	id, _, err := identity.LoadOrCreate(filepath.Join(dir, "identity.pem"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := disk.Open(filepath.Join(dir, "chunks"))
	if err != nil {
		t.Fatal(err)
	}
	store := &countingStore{Store: d}
	tag := "{" + strings.TrimSuffix(prefix, ":") + "}:"
	svc, err := New(DefaultConfig(), Options{Identity: id, Store: store, Records: records,
		Nonces: redis.NewNonces(client, prefix), Blocklist: redis.NewBlocklist(client, tag+"block:")})
	if err != nil {
		t.Fatal(err)
	}
	// Two passes: the first opens the pool's connections (HELLO, CLIENT
	// SETINFO), the second is what a warm replica does.
	for pass := range 2 {
		measure := func(name string, op func() error) {
			t.Helper()
			trips, cmds, calls := hook.trips.Load(), hook.commands.Load(), store.calls.Load()
			if err := op(); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if pass == 1 {
				t.Logf("%-8s Redis round trips %d (commands %d), store calls %d", name,
					hook.trips.Load()-trips, hook.commands.Load()-cmds, store.calls.Load()-calls)
			}
		}
		body := randomBody()
		sender, recipient := newKey(), newKey()
		var c *Created
		measure("create", func() (err error) {
			c, err = svc.Create(ctx, CreateRequest{SenderKey: sender.Public().(ed25519.PublicKey), Size: int64(len(body)),
				Digest: sha256.Sum256(body), RecipientKeys: []ed25519.PublicKey{recipient.Public().(ed25519.PublicKey)}}, signed(sender))
			return err
		})
		measure("upload", func() error {
			return svc.Upload(ctx, c.SenderID, signed(sender), bytes.NewReader(body), int64(len(body)))
		})
		measure("download", func() error {
			b, err := svc.Open(ctx, c.RecipientIDs[0], signed(recipient))
			if err != nil {
				return err
			}
			defer b.Close()
			_, err = io.Copy(io.Discard, b)
			return err
		})
		measure("ack", func() error { return svc.Ack(ctx, c.RecipientIDs[0], signed(recipient)) })
		measure("delete", func() error { return svc.Delete(ctx, c.SenderID, signed(sender)) })
	}
}
