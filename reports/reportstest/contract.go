// Package reportstest holds the contract suite that every reports.Store
// backend passes.
package reportstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xftp/xftp/internal/testenv"
	"github.com/xftp/xftp/reports"
	"github.com/xftp/xftp/storage"
)

func sub(chunkKey, reason, contact string) reports.Submission {
	sender := make([]byte, 24)
	rand.Read(sender)
	now := time.Now()
	return reports.Submission{ChunkKey: chunkKey, SenderID: sender, Reason: reason, Contact: contact,
		At: now, ExpiresAt: now.Add(time.Hour)}
}

// Run runs the contract against the store that open returns; each call
// must return an empty store.
func Run(t *testing.T, open func(t *testing.T) reports.Store) {
	ctx := context.Background()
	t.Run("AddMergesPerChunk", func(t *testing.T) {
		s := open(t)
		key := storage.NewKey()
		first := sub(key, "content", "abuse@example.org")
		r, created, err := s.Add(ctx, first)
		if err != nil || !created || r.Count != 1 || len(r.ID) != reports.IDSize {
			t.Fatalf("first Add = %+v, %v, %v", r, created, err)
		}
		if !bytes.Equal(r.SenderID, first.SenderID) || r.ChunkKey != key || r.Reasons["content"] != 1 ||
			len(r.Contacts) != 1 || r.Contacts[0] != "abuse@example.org" {
			t.Fatalf("first report: %+v", r)
		}
		// Same chunk: merged, whatever the sender ID of the later
		// submission says (the first one stays).
		for _, sb := range []reports.Submission{sub(key, "spam", ""), sub(key, "content", "abuse@example.org"), sub(key, "content", "x@y")} {
			r2, created, err := s.Add(ctx, sb)
			if err != nil || created || !bytes.Equal(r2.ID, r.ID) {
				t.Fatalf("repeated Add = %v, %v; want the same report", created, err)
			}
		}
		got, err := s.Get(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Count != 4 || got.Reasons["content"] != 3 || got.Reasons["spam"] != 1 ||
			strings.Join(got.Contacts, ",") != "abuse@example.org,x@y" || !bytes.Equal(got.SenderID, first.SenderID) {
			t.Fatalf("merged report: %+v", got)
		}
		if got.LastAt.Before(got.FirstAt) || !got.ExpiresAt.After(got.FirstAt) {
			t.Fatalf("times: %+v", got)
		}
		// Another chunk: another report.
		other, created, err := s.Add(ctx, sub(storage.NewKey(), "spam", ""))
		if err != nil || !created || bytes.Equal(other.ID, r.ID) {
			t.Fatalf("Add of another chunk: %v, %v", created, err)
		}
	})
	t.Run("Bounds", func(t *testing.T) {
		s := open(t)
		key := storage.NewKey()
		for i := range reports.MaxContacts + 3 {
			if _, _, err := s.Add(ctx, sub(key, fmt.Sprintf("r%d", i), fmt.Sprintf("c%d", i))); err != nil {
				t.Fatal(err)
			}
		}
		rs, _, err := s.List(ctx, "", 0)
		if err != nil || len(rs) != 1 {
			t.Fatalf("List: %d, %v", len(rs), err)
		}
		r := rs[0]
		if len(r.Contacts) != reports.MaxContacts || r.Contacts[0] != "c0" || r.Count != reports.MaxContacts+3 {
			t.Fatalf("contacts %v, count %d", r.Contacts, r.Count)
		}
		if len(r.Reasons) != reports.MaxReasons+1 || r.Reasons["other"] != 3 {
			t.Fatalf("reasons %v: want %d named and 3 other", r.Reasons, reports.MaxReasons)
		}
		for _, bad := range []reports.Submission{
			sub(key, "Content", ""), sub(key, "", ""), sub(key, strings.Repeat("a", 33), ""),
			sub(key, "spam", "bell\a"), sub(key, "spam", strings.Repeat("x", reports.MaxContactSize+1)),
			sub(key, "spam", "caf\xe9"), sub("", "spam", ""),
		} {
			if _, _, err := s.Add(ctx, bad); !errors.Is(err, reports.ErrInvalid) {
				t.Errorf("Add(%q, %q) = %v, want ErrInvalid", bad.Reason, bad.Contact, err)
			}
		}
	})
	t.Run("ListPagesOldestFirst", func(t *testing.T) {
		s := open(t)
		var ids [][]byte
		base := time.Now()
		for i := range 7 {
			sb := sub(storage.NewKey(), "spam", "")
			sb.At = base.Add(time.Duration(i) * time.Millisecond) // IDs order by millisecond
			r, _, err := s.Add(ctx, sb)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, r.ID)
		}
		var got [][]byte
		cursor := ""
		for pages := 0; ; pages++ {
			rs, next, err := s.List(ctx, cursor, 3)
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) > 3 || pages > 5 {
				t.Fatalf("page of %d", len(rs))
			}
			for _, r := range rs {
				got = append(got, r.ID)
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if len(got) != len(ids) {
			t.Fatalf("listed %d reports, want %d", len(got), len(ids))
		}
		for i := range ids {
			if !bytes.Equal(got[i], ids[i]) {
				t.Fatalf("report %d out of order", i)
			}
		}
		if _, _, err := s.List(ctx, "nonsense", 3); !errors.Is(err, reports.ErrInvalidCursor) {
			t.Fatalf("List with a bad cursor: %v", err)
		}
	})
	t.Run("Delete", func(t *testing.T) {
		s := open(t)
		key := storage.NewKey()
		r, _, err := s.Add(ctx, sub(key, "spam", ""))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, r.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, r.ID); !errors.Is(err, reports.ErrNotFound) {
			t.Fatalf("Get after Delete: %v", err)
		}
		if err := s.Delete(ctx, r.ID); !errors.Is(err, reports.ErrNotFound) {
			t.Fatalf("second Delete: %v", err)
		}
		if rs, _, _ := s.List(ctx, "", 0); len(rs) != 0 {
			t.Fatalf("List after Delete: %d reports", len(rs))
		}
		// A dismissed chunk can be reported afresh.
		r2, created, err := s.Add(ctx, sub(key, "spam", ""))
		if err != nil || !created || r2.Count != 1 || bytes.Equal(r2.ID, r.ID) {
			t.Fatalf("Add after Delete: %v, %v", created, err)
		}
		if _, err := s.Get(ctx, make([]byte, reports.IDSize)); !errors.Is(err, reports.ErrNotFound) {
			t.Fatalf("Get of an unknown ID: %v", err)
		}
	})
	t.Run("Expiry", func(t *testing.T) {
		s := open(t)
		key := storage.NewKey()
		sb := sub(key, "spam", "")
		sb.ExpiresAt = sb.At.Add(100 * time.Millisecond)
		r, _, err := s.Add(ctx, sb)
		if err != nil {
			t.Fatal(err)
		}
		live, _, err := s.Add(ctx, sub(storage.NewKey(), "spam", ""))
		if err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, 10*time.Second, func() bool {
			_, err := s.Get(ctx, r.ID)
			return errors.Is(err, reports.ErrNotFound)
		}, "Get of an expired report still finds it")
		rs, _, err := s.List(ctx, "", 0)
		if err != nil || len(rs) != 1 || !bytes.Equal(rs[0].ID, live.ID) {
			t.Fatalf("List lists expired reports: %d, %v", len(rs), err)
		}
		sb = sub(key, "spam", "")
		if r2, created, err := s.Add(ctx, sb); err != nil || !created || r2.Count != 1 {
			t.Fatalf("Add after expiry: %v, %v", created, err)
		}
	})
	t.Run("ConcurrentAdds", func(t *testing.T) {
		s := open(t)
		key := storage.NewKey()
		var wg sync.WaitGroup
		var mu sync.Mutex
		created := 0
		for range 20 {
			wg.Go(func() {
				_, c, err := s.Add(ctx, sub(key, "spam", ""))
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				defer mu.Unlock()
				if c {
					created++
				}
			})
		}
		wg.Wait()
		rs, _, err := s.List(ctx, "", 0)
		if err != nil || len(rs) != 1 || rs[0].Count != 20 || created != 1 {
			t.Fatalf("20 concurrent reports of one chunk: %d reports, %v, created %d", len(rs), err, created)
		}
	})
}
