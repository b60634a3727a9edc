package embedded

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/xftp/xftp/storage"
	"github.com/xftp/xftp/storage/storagetest"
)

// A database written before recipients had their own bucket (each record's
// recipients inline in its JSON) is migrated at Open: every ID still
// resolves, downloads stay counted, order is kept, and it happens once.
func TestMigrateInlineRecipients(t *testing.T) {
	path := filepath.Join(t.TempDir(), "records.db")
	rec := storagetest.NewRecord(65536, 3, time.Hour)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := diskRecord{SenderID: rec.SenderID, SenderKey: rec.SenderKey, Size: rec.Size, Digest: rec.Digest[:],
		CreatedAt: rec.CreatedAt.UnixNano(), ExpiresAt: rec.ExpiresAt.UnixNano(), Downloaded: 1}
	for i, rc := range rec.Recipients {
		d.Recipients = append(d.Recipients, diskRecipent{ID: rc.ID, Key: rc.Key, Downloaded: i == 1})
	}
	old, _ := json.Marshal(d)
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketChunks, bucketIDs, bucketExpiry, bucketMeta, bucketSenderKeys} {
			tx.CreateBucketIfNotExists(b)
		}
		tx.Bucket(bucketChunks).Put([]byte(rec.Key), old)
		tx.Bucket(bucketIDs).Put(rec.SenderID, idValue(storage.RoleSender, rec.Key))
		for _, rc := range rec.Recipients {
			tx.Bucket(bucketIDs).Put(rc.ID, idValue(storage.RoleRecipient, rec.Key))
		}
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // a second Open finds nothing to migrate
		r, err := Open(path, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := r.Lookup(t.Context(), rec.SenderID)
		if err != nil || len(got.Recipients) != 3 || got.Downloaded != 1 {
			t.Fatalf("sender lookup after migration: %+v, %v", got, err)
		}
		for i, rc := range rec.Recipients {
			if !bytes.Equal(got.Recipients[i].ID, rc.ID) {
				t.Fatal("recipient order changed")
			}
			one, role, err := r.Lookup(t.Context(), rc.ID)
			if err != nil || role != storage.RoleRecipient || len(one.Recipients) != 1 || !bytes.Equal(one.Recipients[0].Key, rc.Key) {
				t.Fatalf("recipient %d after migration: %+v, %v", i, one, err)
			}
		}
		if first, err := r.MarkDownloaded(t.Context(), rec.Key, rec.Recipients[1].ID); err != nil || first {
			t.Fatalf("a download made before the migration counted again: %v %v", first, err)
		}
		r.Close()
	}
}

// BenchmarkRecipientLookup: a download's lookup reads one recipient entry,
// whatever the chunk's audience (compare the sub-benchmarks' ns/op).
func BenchmarkRecipientLookup(b *testing.B) {
	for _, n := range []int{10, 10000} {
		b.Run(fmt.Sprintf("recipients=%d", n), func(b *testing.B) {
			r, err := Open(filepath.Join(b.TempDir(), "records.db"), time.Second)
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			rec := storagetest.NewRecord(65536, 1, time.Hour)
			if err := r.Create(b.Context(), rec, 0); err != nil {
				b.Fatal(err)
			}
			for added := 1; added < n; added += 200 {
				more := storagetest.NewRecord(65536, min(200, n-added), time.Hour).Recipients
				if err := r.AddRecipients(b.Context(), rec.Key, more); err != nil {
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
