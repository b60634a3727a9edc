// Package blocklisttest holds the contract suite that every
// blocklist.Store backend runs.
package blocklisttest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/xftp/xftp/blocklist"
	"github.com/xftp/xftp/identity"
)

// testIdentity is a fixed key, so failures are reproducible.
func testIdentity() *identity.Identity {
	seed := bytes.Repeat([]byte{0x5e}, ed25519.SeedSize)
	return &identity.Identity{Key: ed25519.NewKeyFromSeed(seed)}
}

// chunk is the set of keys of one blocked chunk.
type chunk struct {
	sender     []byte
	recipients [][]byte
	digest     []byte
}

func newChunk(name string, recipients int) chunk {
	c := chunk{
		sender: []byte("snd-" + name),
		digest: []byte("dgst-" + name),
	}
	for i := range recipients {
		c.recipients = append(c.recipients, []byte(fmt.Sprintf("rcp-%s-%d", name, i)))
	}
	return c
}

func (c chunk) keys() []blocklist.Key {
	ks := []blocklist.Key{{Kind: blocklist.KindSender, Value: c.sender}}
	for _, r := range c.recipients {
		ks = append(ks, blocklist.Key{Kind: blocklist.KindRecipient, Value: r})
	}
	return append(ks, blocklist.Key{Kind: blocklist.KindDigest, Value: c.digest})
}

// entries signs one record per key, as the server does, with notice in
// every record.
func (c chunk) entries(t *testing.T, id *identity.Identity, notice string) []blocklist.Entry {
	t.Helper()
	var es []blocklist.Entry
	for _, k := range c.keys() {
		e := Entry(t, id, k, notice)
		if k.Kind != blocklist.KindDigest {
			// The blocked ID's own key, as the server keeps it.
			seed := sha256.Sum256(k.Value)
			e.PublicKey = ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)
		}
		es = append(es, e)
	}
	return es
}

// Entry returns an entry for k with a record signed by id: for sender and
// recipient keys the record names k.Value, for digest keys no chunk ID.
func Entry(t testing.TB, id *identity.Identity, k blocklist.Key, notice string) blocklist.Entry {
	t.Helper()
	r := blocklist.Record{
		Reason:       blocklist.ReasonContent,
		Notice:       notice,
		BlockedAt:    time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		Restrictions: []blocklist.Restriction{blocklist.RestrictNoUploads},
	}
	if k.Kind != blocklist.KindDigest {
		r.ChunkID = k.Value
	}
	s, err := blocklist.Sign(id, r)
	if err != nil {
		t.Fatalf("signing record: %v", err)
	}
	return blocklist.Entry{Key: k, Record: s}
}

func sameEntry(a, b *blocklist.Entry) bool {
	return a.Key.Kind == b.Key.Kind && bytes.Equal(a.Key.Value, b.Key.Value) &&
		bytes.Equal(a.Record.Marshal(), b.Record.Marshal()) && bytes.Equal(a.PublicKey, b.PublicKey)
}

func mustLookup(t *testing.T, s blocklist.Store, want *blocklist.Entry, keys ...blocklist.Key) {
	t.Helper()
	got, err := s.Lookup(context.Background(), keys...)
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	if !sameEntry(got, want) {
		t.Fatalf("Lookup returned %s key %q (%s), want %s key %q (%s)",
			got.Key.Kind, got.Key.Value, got.Record.Record.Notice,
			want.Key.Kind, want.Key.Value, want.Record.Record.Notice)
	}
}

func mustNotBlocked(t *testing.T, s blocklist.Store, keys ...blocklist.Key) {
	t.Helper()
	e, err := s.Lookup(context.Background(), keys...)
	if !errors.Is(err, blocklist.ErrNotBlocked) {
		t.Fatalf("Lookup = %v, %v; want ErrNotBlocked", e, err)
	}
}

// TestStore runs the contract suite on stores made by open. Each subtest
// opens its own store, which must start empty; open registers any cleanup
// with t.Cleanup.
func TestStore(t *testing.T, open func(t *testing.T) blocklist.Store) {
	id := testIdentity()
	ctx := context.Background()
	newStore := func(t *testing.T) blocklist.Store {
		s := open(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}

	t.Run("BlockLookupUnblock", func(t *testing.T) {
		s := newStore(t)
		c := newChunk("a", 3)
		es := c.entries(t, id, "first")
		if err := s.Block(ctx, es); err != nil {
			t.Fatal(err)
		}
		for i, k := range c.keys() {
			mustLookup(t, s, &es[i], k)
		}
		if err := s.Unblock(ctx, c.keys()...); err != nil {
			t.Fatal(err)
		}
		for _, k := range c.keys() {
			mustNotBlocked(t, s, k)
		}
	})

	t.Run("UnknownKeys", func(t *testing.T) {
		s := newStore(t)
		mustNotBlocked(t, s)
		mustNotBlocked(t, s, newChunk("unknown", 2).keys()...)
		if err := s.Unblock(ctx, newChunk("unknown", 1).keys()...); err != nil {
			t.Fatalf("Unblock of unknown keys: %v", err)
		}
	})

	t.Run("LookupSeveralKeys", func(t *testing.T) {
		s := newStore(t)
		c := newChunk("b", 2)
		es := c.entries(t, id, "b")
		if err := s.Block(ctx, es); err != nil {
			t.Fatal(err)
		}
		unknown := blocklist.Key{Kind: blocklist.KindRecipient, Value: []byte("not blocked")}
		// The blocked one among unknown keys.
		mustLookup(t, s, &es[2], unknown, es[2].Key)
		// Request ID first, then the digest: both blocked, the first wins.
		mustLookup(t, s, &es[1], es[1].Key, es[3].Key)
		mustLookup(t, s, &es[3], es[3].Key, es[1].Key)
		// A digest match for a new ID: the digest entry comes back.
		mustLookup(t, s, &es[3], unknown, es[3].Key)
	})

	t.Run("KindsAreDistinct", func(t *testing.T) {
		s := newStore(t)
		v := []byte("same value")
		e := Entry(t, id, blocklist.Key{Kind: blocklist.KindSender, Value: v}, "sender")
		if err := s.Block(ctx, []blocklist.Entry{e}); err != nil {
			t.Fatal(err)
		}
		mustNotBlocked(t, s, blocklist.Key{Kind: blocklist.KindRecipient, Value: v})
		mustLookup(t, s, &e, blocklist.Key{Kind: blocklist.KindSender, Value: v})
	})

	t.Run("PartialUnblock", func(t *testing.T) {
		s := newStore(t)
		c := newChunk("c", 2)
		es := c.entries(t, id, "c")
		if err := s.Block(ctx, es); err != nil {
			t.Fatal(err)
		}
		if err := s.Unblock(ctx, es[1].Key); err != nil {
			t.Fatal(err)
		}
		mustNotBlocked(t, s, es[1].Key)
		mustLookup(t, s, &es[0], es[0].Key)
		mustLookup(t, s, &es[2], es[1].Key, es[2].Key)
	})

	t.Run("ReblockOverwrites", func(t *testing.T) {
		s := newStore(t)
		c := newChunk("d", 1)
		if err := s.Block(ctx, c.entries(t, id, "old")); err != nil {
			t.Fatal(err)
		}
		es := c.entries(t, id, "new")
		if err := s.Block(ctx, es); err != nil {
			t.Fatal(err)
		}
		for i, k := range c.keys() {
			mustLookup(t, s, &es[i], k)
		}
		all, _, err := s.List(ctx, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != len(es) {
			t.Fatalf("List after re-block returned %d entries, want %d", len(all), len(es))
		}
	})

	t.Run("InvalidEntries", func(t *testing.T) {
		s := newStore(t)
		good := Entry(t, id, blocklist.Key{Kind: blocklist.KindSender, Value: []byte("good")}, "")
		other := Entry(t, id, blocklist.Key{Kind: blocklist.KindSender, Value: []byte("other")}, "")
		digest := Entry(t, id, blocklist.Key{Kind: blocklist.KindDigest, Value: []byte("d")}, "")
		for name, bad := range map[string]blocklist.Entry{
			"record for another ID": {Key: blocklist.Key{Kind: blocklist.KindRecipient, Value: []byte("r")}, Record: other.Record},
			"digest with chunk ID":  {Key: digest.Key, Record: good.Record},
			"ID with digest record": {Key: good.Key, Record: digest.Record},
			"no record":             {Key: good.Key},
			"empty key":             {Key: blocklist.Key{Kind: blocklist.KindSender}, Record: good.Record},
			"unknown kind":          {Key: blocklist.Key{Kind: 9, Value: []byte("good")}, Record: good.Record},
		} {
			err := s.Block(ctx, []blocklist.Entry{good, bad})
			if !errors.Is(err, blocklist.ErrInvalidEntry) {
				t.Errorf("%s: Block = %v, want ErrInvalidEntry", name, err)
			}
			mustNotBlocked(t, s, good.Key)
		}
		if _, err := s.Lookup(ctx, blocklist.Key{Kind: blocklist.KindSender}); !errors.Is(err, blocklist.ErrInvalidKey) {
			t.Errorf("Lookup of an empty key = %v, want ErrInvalidKey", err)
		}
		if err := s.Unblock(ctx, blocklist.Key{Kind: 0, Value: []byte("x")}); !errors.Is(err, blocklist.ErrInvalidKey) {
			t.Errorf("Unblock of an invalid key = %v, want ErrInvalidKey", err)
		}
	})

	t.Run("ListPagination", func(t *testing.T) {
		s := newStore(t)
		want := map[string]*blocklist.Entry{}
		for i := range 7 {
			es := newChunk(fmt.Sprint(i), 2).entries(t, id, fmt.Sprint(i))
			if err := s.Block(ctx, es); err != nil {
				t.Fatal(err)
			}
			for j := range es {
				want[fmt.Sprintf("%d/%q", es[j].Key.Kind, es[j].Key.Value)] = &es[j]
			}
		}
		list := func(limit int) []blocklist.Entry {
			var all []blocklist.Entry
			cursor := ""
			for pages := 0; ; pages++ {
				if pages > len(want)+1 {
					t.Fatalf("List with limit %d does not end", limit)
				}
				es, next, err := s.List(ctx, cursor, limit)
				if err != nil {
					t.Fatal(err)
				}
				if len(es) > limit {
					t.Fatalf("List returned %d entries, limit %d", len(es), limit)
				}
				all = append(all, es...)
				if next == "" {
					return all
				}
				cursor = next
			}
		}
		var first []blocklist.Entry
		for _, limit := range []int{1, 3, 4, len(want) - 1, len(want), len(want) + 1, 1000} {
			all := list(limit)
			seen := map[string]bool{}
			for i := range all {
				k := fmt.Sprintf("%d/%q", all[i].Key.Kind, all[i].Key.Value)
				w, ok := want[k]
				switch {
				case !ok:
					t.Fatalf("limit %d: List returned unknown key %s", limit, k)
				case seen[k]:
					t.Fatalf("limit %d: List returned %s twice", limit, k)
				case !sameEntry(&all[i], w):
					t.Fatalf("limit %d: List returned another entry for %s", limit, k)
				}
				seen[k] = true
			}
			if len(seen) != len(want) {
				t.Fatalf("limit %d: List returned %d entries, want %d", limit, len(seen), len(want))
			}
			if first == nil {
				first = all
			}
			for i := range all { // stable order, whatever the page size
				if !sameEntry(&all[i], &first[i]) {
					t.Fatalf("limit %d: order differs from limit 1 at %d", limit, i)
				}
			}
		}
		// Entries blocked after a page still show up after it when they
		// sort later, and unblocked ones disappear.
		es, next, err := s.List(ctx, "", 2)
		if err != nil || next == "" || len(es) != 2 {
			t.Fatalf("List = %d entries, %q, %v", len(es), next, err)
		}
		if err := s.Unblock(ctx, es[1].Key); err != nil {
			t.Fatal(err)
		}
		rest, _, err := s.List(ctx, next, 1000)
		if err != nil {
			t.Fatalf("List after unblocking the cursor's entry: %v", err)
		}
		if len(rest) != len(want)-2 {
			t.Fatalf("List after cursor returned %d entries, want %d", len(rest), len(want)-2)
		}
		if _, _, err := s.List(ctx, "not a cursor!", 10); !errors.Is(err, blocklist.ErrInvalidCursor) {
			t.Errorf("List with a bad cursor = %v, want ErrInvalidCursor", err)
		}
	})

	t.Run("EmptyList", func(t *testing.T) {
		s := newStore(t)
		es, next, err := s.List(ctx, "", 10)
		if err != nil || len(es) != 0 || next != "" {
			t.Fatalf("List of an empty store = %d entries, %q, %v", len(es), next, err)
		}
	})

	t.Run("ConcurrentBlocks", func(t *testing.T) {
		s := newStore(t)
		// Every writer blocks the same shared chunk plus one of its own.
		// Block is atomic, so afterwards all keys of the shared chunk hold
		// records from the same writer.
		shared := newChunk("shared", 3)
		const writers = 16
		own := make([][]blocklist.Entry, writers)
		var wg sync.WaitGroup
		errs := make(chan error, writers*2)
		for w := range writers {
			es := shared.entries(t, id, fmt.Sprint("writer ", w))
			own[w] = newChunk(fmt.Sprint("own", w), 1).entries(t, id, fmt.Sprint("writer ", w))
			wg.Go(func() {
				for range 5 {
					if err := s.Block(ctx, es); err != nil {
						errs <- err
						return
					}
					if _, err := s.Lookup(ctx, shared.keys()...); err != nil {
						errs <- err
						return
					}
				}
				if err := s.Block(ctx, own[w]); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		var notice string
		for i, k := range shared.keys() {
			e, err := s.Lookup(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				notice = e.Record.Record.Notice
			} else if e.Record.Record.Notice != notice {
				t.Fatalf("shared chunk has records from %q and %q: Block is not atomic", notice, e.Record.Record.Notice)
			}
		}
		for w := range writers {
			for i := range own[w] {
				mustLookup(t, s, &own[w][i], own[w][i].Key)
			}
		}
	})

	t.Run("Canceled", func(t *testing.T) {
		s := newStore(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		e := Entry(t, id, blocklist.Key{Kind: blocklist.KindSender, Value: []byte("x")}, "")
		if err := s.Block(cctx, []blocklist.Entry{e}); err == nil {
			t.Error("Block with a canceled context succeeded")
		}
		mustNotBlocked(t, s, e.Key)
	})
}
