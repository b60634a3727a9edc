package server

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/xftp/xftp/identity"
	"github.com/xftp/xftp/storage/disk"
	"github.com/xftp/xftp/storage/embedded"
)

func newNonceFixture(t *testing.T, capacity int) *blockFixture {
	t.Helper()
	dir := t.TempDir()
	f := &blockFixture{audit: &memAudit{}}
	var err error
	if f.id, _, err = identity.LoadOrCreate(filepath.Join(dir, "identity.pem")); err != nil {
		t.Fatal(err)
	}
	if f.store, err = disk.Open(filepath.Join(dir, "chunks")); err != nil {
		t.Fatal(err)
	}
	records, err := embedded.Open(filepath.Join(dir, "records.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { records.Close() })
	if f.svc, err = New(DefaultConfig(), Options{Identity: f.id, Store: f.store, Records: records, NonceCapacity: capacity}); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestNonceCacheIsSharedFairly: sources spending nonces as fast as they
// can (signed status requests of their own chunk) fill at most their
// shares of the cache; a source that arrives afterwards is still served
// (issue 20, item 5). Capacity 8192: 512 per source, and past 6144 only
// sources with fewer than 128 may add more. Without the shares, the 20
// sources fill the cache and every signed request gets ErrUnavailable.
func TestNonceCacheIsSharedFairly(t *testing.T) {
	f := newNonceFixture(t, 8192)
	c := f.upload(t, randomBody(), 1)
	status := func(src string) error {
		_, err := f.svc.Status(WithSource(context.Background(), src), c.created.SenderID, signed(c.sender))
		return err
	}
	for i := range 20 {
		src := fmt.Sprintf("attacker-%d", i)
		n := 0
		for ; n <= 8192; n++ {
			if err := status(src); err != nil {
				if !errors.Is(err, ErrRateLimited) {
					t.Fatalf("attacker %d, request %d: %v, want ErrRateLimited", i, n, err)
				}
				break
			}
		}
		if n > 512 {
			t.Fatalf("attacker %d spent %d nonces, more than its share of 512", i, n)
		}
	}
	for n := range 100 {
		if err := status("newcomer"); err != nil {
			t.Fatalf("a newcomer's request %d under the attack: %v", n, err)
		}
	}
}

// TestRefusedCreateSpendsNoNonce: a create refused for its size is refused
// before its signature is checked, so its nonce stays unspent (issue 20,
// item 5).
func TestRefusedCreateSpendsNoNonce(t *testing.T) {
	f := newBlockFixture(t, false)
	k := newKey()
	body := randomBody()
	req := CreateRequest{SenderKey: k.Public().(ed25519.PublicKey), Size: 12345, Digest: sha256.Sum256(body),
		RecipientKeys: []ed25519.PublicKey{newKey().Public().(ed25519.PublicKey)}}
	a := signed(k)
	if _, err := f.svc.Create(context.Background(), req, a); !errors.Is(err, ErrSize) {
		t.Fatalf("create of a wrong size: %v, want ErrSize", err)
	}
	req.Size = int64(len(body))
	if _, err := f.svc.Create(context.Background(), req, a); err != nil {
		t.Fatalf("the same nonce after a refusal for size: %v", err)
	}
}

// TestReplayAfterRestartIsRefused: a request accepted just before a
// restart is refused when replayed just after it, though the new process
// has forgotten its nonce (issue 20, item 13).
func TestReplayAfterRestartIsRefused(t *testing.T) {
	dir := t.TempDir()
	id, _, _ := identity.LoadOrCreate(filepath.Join(dir, "identity.pem"))
	store, _ := disk.Open(filepath.Join(dir, "chunks"))
	records, err := embedded.Open(filepath.Join(dir, "records.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { records.Close() })
	now := time.Now()
	clock := func() time.Time { return now }
	start := func() *Service {
		s, err := New(DefaultConfig(), Options{Identity: id, Store: store, Records: records, Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := start()
	k := newKey()
	body := randomBody()
	req := CreateRequest{SenderKey: k.Public().(ed25519.PublicKey), Size: int64(len(body)), Digest: sha256.Sum256(body),
		RecipientKeys: []ed25519.PublicKey{newKey().Public().(ed25519.PublicKey)}}
	c, err := before.Create(context.Background(), req, signed(k))
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Second)
	a := signed(k)
	a.Timestamp = now
	if _, err := before.Status(context.Background(), c.SenderID, a); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Second) // restart
	after := start()
	if _, err := after.Status(context.Background(), c.SenderID, a); !errors.Is(err, ErrClock) {
		t.Fatalf("a request from before the restart, replayed after it: %v, want ErrClock", err)
	}
	fresh := signed(k)
	fresh.Timestamp = now
	if _, err := after.Status(context.Background(), c.SenderID, fresh); err != nil {
		t.Fatalf("a fresh request after the restart: %v", err)
	}
}
