package storagetest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/xftp/xftp/storage"
)

func randID() []byte {
	b := make([]byte, 24)
	rand.Read(b)
	return b
}

func pubKey() ed25519.PublicKey {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	return pub
}

// NewRecord returns a fresh record with n recipients, expiring after ttl.
func NewRecord(size int64, n int, ttl time.Duration) *storage.Record {
	now := time.Now().Truncate(time.Millisecond)
	rec := &storage.Record{
		Key: storage.NewKey(), SenderID: randID(), SenderKey: pubKey(), Size: size,
		CreatedAt: now, ExpiresAt: now.Add(ttl),
	}
	rand.Read(rec.Digest[:])
	for range n {
		rec.Recipients = append(rec.Recipients, storage.Recipient{ID: randID(), Key: pubKey()})
	}
	return rec
}

// TestRecords runs the storage.Records contract against the store that open
// returns. Each call to open must return an empty store.
func TestRecords(t *testing.T, open func(t *testing.T) storage.Records) {
	ctx := context.Background()
	t.Run("CreateLookup", func(t *testing.T) {
		r := open(t)
		rec := NewRecord(4<<20, 3, time.Hour)
		if err := r.Create(ctx, rec, 0); err != nil {
			t.Fatal(err)
		}
		got, role, err := r.Lookup(ctx, rec.SenderID)
		if err != nil || role != storage.RoleSender {
			t.Fatalf("Lookup sender: role %v, %v", role, err)
		}
		assertEqual(t, got, rec)
		for _, rc := range rec.Recipients {
			got, role, err := r.Lookup(ctx, rc.ID)
			if err != nil || role != storage.RoleRecipient {
				t.Fatalf("Lookup recipient: role %v, %v", role, err)
			}
			// A recipient's lookup carries that recipient only: its
			// cost must not grow with the chunk's audience.
			want := *rec
			want.Recipients = []storage.Recipient{rc}
			assertEqual(t, got, &want)
		}
		if _, _, err := r.Lookup(ctx, randID()); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Lookup unknown ID: %v", err)
		}
		if ok, err := r.Has(ctx, rec.Key); !ok || err != nil {
			t.Fatalf("Has = %v, %v", ok, err)
		}
	})
	t.Run("DuplicateIDs", func(t *testing.T) {
		r := open(t)
		rec := NewRecord(1, 1, time.Hour)
		if err := r.Create(ctx, rec, 0); err != nil {
			t.Fatal(err)
		}
		dup := NewRecord(1, 1, time.Hour)
		dup.Recipients[0].ID = rec.SenderID
		if err := r.Create(ctx, dup, 0); !errors.Is(err, storage.ErrExists) {
			t.Fatalf("Create with a taken ID: %v", err)
		}
		if _, _, err := r.Lookup(ctx, dup.SenderID); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("failed Create left its sender ID: %v", err)
		}
		if err := r.AddRecipients(ctx, rec.Key, []storage.Recipient{{ID: randID(), Key: pubKey()}, {ID: rec.Recipients[0].ID, Key: pubKey()}}); !errors.Is(err, storage.ErrExists) {
			t.Fatalf("AddRecipients with a taken ID: %v", err)
		}
		got, _, _ := r.Lookup(ctx, rec.SenderID)
		if len(got.Recipients) != 1 {
			t.Fatalf("failed AddRecipients changed the record: %d recipients", len(got.Recipients))
		}
	})
	t.Run("SenderKey", func(t *testing.T) {
		// A sender key names one chunk while its record lives: a second
		// Create with it fails, and BySenderKey finds the first.
		r := open(t)
		rec := NewRecord(1000, 2, time.Hour)
		if err := r.Create(ctx, rec, 0); err != nil {
			t.Fatal(err)
		}
		again := NewRecord(1000, 2, time.Hour)
		again.SenderKey = rec.SenderKey
		if err := r.Create(ctx, again, 0); !errors.Is(err, storage.ErrExists) {
			t.Fatalf("Create with a taken sender key: %v", err)
		}
		if _, _, err := r.Lookup(ctx, again.SenderID); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("the refused Create left its sender ID: %v", err)
		}
		got, err := r.BySenderKey(ctx, rec.SenderKey)
		if err != nil {
			t.Fatal(err)
		}
		assertEqual(t, got, rec)
		if _, err := r.BySenderKey(ctx, pubKey()); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("BySenderKey of an unknown key: %v", err)
		}
		if u, _ := r.Usage(ctx); u.Chunks != 1 || u.Bytes != 1000 {
			t.Fatalf("usage after a refused Create: %+v", u)
		}
		if _, err := r.Delete(ctx, rec.Key); err != nil {
			t.Fatal(err)
		}
		if _, err := r.BySenderKey(ctx, rec.SenderKey); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("BySenderKey after Delete: %v", err)
		}
		if err := r.Create(ctx, again, 0); err != nil {
			t.Fatalf("Create with the sender key of a deleted record: %v", err)
		}
		if got, err := r.BySenderKey(ctx, rec.SenderKey); err != nil || got.Key != again.Key {
			t.Fatalf("BySenderKey after the key was used again: %+v, %v", got, err)
		}
	})
	t.Run("DeleteUnuploaded", func(t *testing.T) {
		r := open(t)
		up := NewRecord(1000, 1, time.Hour)
		up.Uploaded = true
		not := NewRecord(500, 1, time.Hour)
		for _, rec := range []*storage.Record{up, not} {
			if err := r.Create(ctx, rec, 0); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := r.DeleteUnuploaded(ctx, up.Key); !errors.Is(err, storage.ErrExists) {
			t.Fatalf("DeleteUnuploaded of an uploaded record: %v", err)
		}
		if got, _, err := r.Lookup(ctx, up.Recipients[0].ID); err != nil || !got.Uploaded {
			t.Fatalf("the uploaded record after DeleteUnuploaded: %+v, %v", got, err)
		}
		if del, err := r.DeleteUnuploaded(ctx, not.Key); err != nil || del.Key != not.Key {
			t.Fatalf("DeleteUnuploaded: %+v, %v", del, err)
		}
		if _, _, err := r.Lookup(ctx, not.SenderID); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("the deleted record still resolves: %v", err)
		}
		if _, err := r.BySenderKey(ctx, not.SenderKey); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("the deleted record's sender key still resolves: %v", err)
		}
		if _, err := r.DeleteUnuploaded(ctx, not.Key); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("second DeleteUnuploaded: %v", err)
		}
		if u, _ := r.Usage(ctx); u.Chunks != 1 || u.Bytes != 1000 {
			t.Fatalf("usage: %+v", u)
		}
		// A live chunk's sender key is ErrExists even with the quota spent
		// (a retried create must find its chunk, not QUOTA).
		again := NewRecord(1000, 1, time.Hour)
		again.SenderKey = up.SenderKey
		if err := r.Create(ctx, again, 1000); !errors.Is(err, storage.ErrExists) {
			t.Fatalf("Create with a taken sender key and the quota spent: %v", err)
		}
	})
	t.Run("CreateUploaded", func(t *testing.T) {
		// A record created with its body already stored (one commit for
		// create and upload) is uploaded from the start.
		r := open(t)
		rec := NewRecord(1000, 2, time.Hour)
		rec.Uploaded = true
		if err := r.Create(ctx, rec, 0); err != nil {
			t.Fatal(err)
		}
		for _, id := range [][]byte{rec.SenderID, rec.Recipients[1].ID} {
			got, _, err := r.Lookup(ctx, id)
			if err != nil || !got.Uploaded {
				t.Fatalf("record created uploaded: %+v, %v", got, err)
			}
		}
		if held, err := r.SetUploaded(ctx, rec.Key, storage.NewBodyName(rec.Key)); err != nil || held != rec.BodyName() {
			t.Fatalf("SetUploaded of a record created uploaded: %q, %v; want %q", held, err, rec.BodyName())
		}
		plain := NewRecord(1000, 1, time.Hour)
		if err := r.Create(ctx, plain, 0); err != nil {
			t.Fatal(err)
		}
		if got, _, err := r.Lookup(ctx, plain.SenderID); err != nil || got.Uploaded {
			t.Fatalf("record created without its body: %+v, %v", got, err)
		}
	})
	t.Run("Lifecycle", func(t *testing.T) {
		r := open(t)
		rec := NewRecord(1000, 1, time.Hour)
		if err := r.Create(ctx, rec, 0); err != nil {
			t.Fatal(err)
		}
		// The first attempt to finish wins; a later one is told its name.
		first, second := storage.NewBodyName(rec.Key), storage.NewBodyName(rec.Key)
		if held, err := r.SetUploaded(ctx, rec.Key, first); err != nil || held != first {
			t.Fatalf("SetUploaded = %q, %v; want %q", held, err, first)
		}
		if held, err := r.SetUploaded(ctx, rec.Key, second); err != nil || held != first {
			t.Fatalf("second SetUploaded = %q, %v; want the first body %q", held, err, first)
		}
		if got, _, err := r.Lookup(ctx, rec.SenderID); err != nil || got.Body != first || got.BodyName() != first {
			t.Fatalf("Lookup after SetUploaded: body %q, %v; want %q", got.Body, err, first)
		}
		extra := storage.Recipient{ID: randID(), Key: pubKey()}
		if err := r.AddRecipients(ctx, rec.Key, []storage.Recipient{extra}); err != nil {
			t.Fatal(err)
		}
		got, role, err := r.Lookup(ctx, extra.ID)
		if err != nil || role != storage.RoleRecipient || !got.Uploaded || len(got.Recipients) != 1 || !bytes.Equal(got.Recipients[0].ID, extra.ID) {
			t.Fatalf("after AddRecipients: %+v role %v err %v", got, role, err)
		}
		if got, _, err := r.Lookup(ctx, rec.SenderID); err != nil || len(got.Recipients) != 2 || !bytes.Equal(got.Recipients[1].ID, extra.ID) {
			t.Fatalf("after AddRecipients, the sender's lookup: %+v, %v", got, err)
		}
		if err := r.RemoveRecipient(ctx, rec.Key, rec.Recipients[0].ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := r.Lookup(ctx, rec.Recipients[0].ID); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("removed recipient still resolves: %v", err)
		}
		if err := r.RemoveRecipient(ctx, rec.Key, rec.Recipients[0].ID); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("second RemoveRecipient: %v", err)
		}
		del, err := r.Delete(ctx, rec.Key)
		if err != nil || del.Key != rec.Key {
			t.Fatalf("Delete: %v", err)
		}
		for _, id := range [][]byte{rec.SenderID, extra.ID} {
			if _, _, err := r.Lookup(ctx, id); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("ID resolves after Delete: %v", err)
			}
		}
		if _, err := r.Delete(ctx, rec.Key); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("second Delete: %v", err)
		}
		for _, op := range []func() error{
			func() error { _, err := r.SetUploaded(ctx, rec.Key, storage.NewBodyName(rec.Key)); return err },
			func() error { return r.AddRecipients(ctx, rec.Key, []storage.Recipient{{ID: randID(), Key: pubKey()}}) },
		} {
			if err := op(); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("operation on deleted record: %v", err)
			}
		}
	})
	t.Run("DeliveryReceipts", func(t *testing.T) {
		r := open(t)
		rec := NewRecord(1000, 4, time.Hour) // 2 real recipients, 2 padding IDs
		if err := r.Create(ctx, rec, 0); err != nil {
			t.Fatal(err)
		}
		counts := func(wantDownloaded, wantAcked int) {
			t.Helper()
			got, _, err := r.Lookup(ctx, rec.SenderID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Downloaded != wantDownloaded || got.Acked != wantAcked {
				t.Fatalf("downloaded %d, acked %d; want %d, %d", got.Downloaded, got.Acked, wantDownloaded, wantAcked)
			}
		}
		counts(0, 0)
		a, b := rec.Recipients[0].ID, rec.Recipients[1].ID
		for i, want := range []bool{true, false, false} {
			first, err := r.MarkDownloaded(ctx, rec.Key, a)
			if err != nil || first != want {
				t.Fatalf("MarkDownloaded #%d = %v, %v; want %v", i+1, first, err, want)
			}
		}
		counts(1, 0)
		if first, err := r.MarkDownloaded(ctx, rec.Key, b); err != nil || !first {
			t.Fatalf("MarkDownloaded of a second recipient = %v, %v", first, err)
		}
		counts(2, 0)
		// An acknowledged recipient stays counted as downloaded.
		if err := r.RemoveRecipient(ctx, rec.Key, a); err != nil {
			t.Fatal(err)
		}
		counts(2, 1)
		if _, err := r.MarkDownloaded(ctx, rec.Key, a); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("MarkDownloaded of an acknowledged recipient: %v", err)
		}
		// Acknowledging without downloading counts only the ack.
		if err := r.RemoveRecipient(ctx, rec.Key, rec.Recipients[2].ID); err != nil {
			t.Fatal(err)
		}
		counts(2, 2)
		// Other operations keep the counts.
		if _, err := r.SetUploaded(ctx, rec.Key, storage.NewBodyName(rec.Key)); err != nil {
			t.Fatal(err)
		}
		if err := r.AddRecipients(ctx, rec.Key, []storage.Recipient{{ID: randID(), Key: pubKey()}}); err != nil {
			t.Fatal(err)
		}
		counts(2, 2)
		got, _, _ := r.Lookup(ctx, rec.SenderID)
		if len(got.Recipients) != 3 || !got.Uploaded {
			t.Fatalf("record after receipts: %d recipients, uploaded %v", len(got.Recipients), got.Uploaded)
		}
		if _, err := r.MarkDownloaded(ctx, rec.Key, randID()); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("MarkDownloaded of an unknown recipient: %v", err)
		}
		if _, err := r.MarkDownloaded(ctx, storage.NewKey(), a); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("MarkDownloaded of an unknown record: %v", err)
		}
	})
	t.Run("Quota", func(t *testing.T) {
		r := open(t)
		a := NewRecord(600, 1, time.Hour)
		if err := r.Create(ctx, a, 1000); err != nil {
			t.Fatal(err)
		}
		if err := r.Create(ctx, NewRecord(401, 1, time.Hour), 1000); !errors.Is(err, storage.ErrQuota) {
			t.Fatalf("Create over quota: %v", err)
		}
		if err := r.Create(ctx, NewRecord(400, 1, time.Hour), 1000); err != nil {
			t.Fatalf("Create filling quota exactly: %v", err)
		}
		u, err := r.Usage(ctx)
		if err != nil || u.Bytes != 1000 || u.Chunks != 2 {
			t.Fatalf("Usage = %+v, %v; want 2 chunks, 1000 bytes", u, err)
		}
		if _, err := r.Delete(ctx, a.Key); err != nil {
			t.Fatal(err)
		}
		if err := r.Create(ctx, NewRecord(600, 1, time.Hour), 1000); err != nil {
			t.Fatalf("Create after Delete released quota: %v", err)
		}
	})
	t.Run("ConcurrentQuota", func(t *testing.T) {
		r := open(t)
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok := 0
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := r.Create(ctx, NewRecord(100, 2, time.Hour), 1000)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case !errors.Is(err, storage.ErrQuota):
					t.Errorf("Create: %v", err)
				}
			}()
		}
		wg.Wait()
		u, _ := r.Usage(ctx)
		if ok != 10 || u.Bytes != 1000 || u.Chunks != 10 {
			t.Fatalf("%d creates succeeded, usage %+v; want 10 and 1000 bytes", ok, u)
		}
	})
	t.Run("Expired", func(t *testing.T) {
		r := open(t)
		old1 := NewRecord(1, 1, -2*time.Hour)
		old2 := NewRecord(1, 1, -time.Hour)
		fresh := NewRecord(1, 1, time.Hour)
		for _, rec := range []*storage.Record{fresh, old2, old1} {
			if err := r.Create(ctx, rec, 0); err != nil {
				t.Fatal(err)
			}
		}
		got, err := r.Expired(ctx, time.Now(), 10)
		if err != nil || len(got) != 2 {
			t.Fatalf("Expired = %d records, %v; want 2", len(got), err)
		}
		for _, rec := range got {
			if rec.Key == fresh.Key {
				t.Fatal("Expired returned a fresh record")
			}
		}
		if got, _ := r.Expired(ctx, time.Now(), 1); len(got) != 1 {
			t.Fatalf("Expired ignores limit: %d records", len(got))
		}
	})
}

func assertEqual(t *testing.T, got, want *storage.Record) {
	t.Helper()
	if got.Key != want.Key || string(got.SenderID) != string(want.SenderID) ||
		!got.SenderKey.Equal(want.SenderKey) || got.Size != want.Size || got.Digest != want.Digest ||
		got.Uploaded != want.Uploaded || !got.CreatedAt.Equal(want.CreatedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) ||
		len(got.Recipients) != len(want.Recipients) {
		t.Fatalf("record differs:\n got %+v\nwant %+v", got, want)
	}
	for i := range want.Recipients {
		if string(got.Recipients[i].ID) != string(want.Recipients[i].ID) || !got.Recipients[i].Key.Equal(want.Recipients[i].Key) {
			t.Fatalf("recipient %d differs", i)
		}
	}
}
