package embedded

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/xftp/xftp/storage"
	"github.com/xftp/xftp/storage/storagetest"
)

func TestContract(t *testing.T) {
	storagetest.TestRecords(t, func(t *testing.T) storage.Records {
		r, err := Open(filepath.Join(t.TempDir(), "records.db"), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	})
}

func TestReopenKeepsRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "records.db")
	r, err := Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	rec := storagetest.NewRecord(100, 2, time.Hour)
	if err := r.Create(t.Context(), rec, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, 50*time.Millisecond); err == nil {
		t.Fatal("a second Open of a database in use succeeded")
	}
	r.Close()
	r, err = Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, _, err := r.Lookup(t.Context(), rec.Recipients[1].ID); err != nil {
		t.Fatalf("record lost across reopen: %v", err)
	}
	if u, _ := r.Usage(t.Context()); u.Bytes != 100 {
		t.Fatalf("usage lost across reopen: %+v", u)
	}
}

// A repeat download changes nothing, so it commits nothing (each bbolt
// write commit is an fsync); the first one commits once.
func TestRepeatDownloadCommitsNothing(t *testing.T) {
	r, err := Open(filepath.Join(t.TempDir(), "records.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rec := storagetest.NewRecord(100, 1, time.Hour)
	if err := r.Create(t.Context(), rec, 0); err != nil {
		t.Fatal(err)
	}
	txid := func() (id int) {
		r.db.View(func(tx *bolt.Tx) error { id = tx.ID(); return nil })
		return id
	}
	before := txid()
	for i, want := range []bool{true, false, false, false} {
		first, err := r.MarkDownloaded(t.Context(), rec.Key, rec.Recipients[0].ID)
		if err != nil || first != want {
			t.Fatalf("MarkDownloaded #%d = %v, %v; want %v", i+1, first, err, want)
		}
	}
	if n := txid() - before; n != 1 {
		t.Fatalf("%d write commits for one first and three repeat downloads, want 1", n)
	}
}

// A create that must fail (quota spent, or a retry) is refused before it
// joins a shared commit, where its failure would roll the group back.
func TestRefusedCreateStaysOutOfTheGroup(t *testing.T) {
	r, err := Open(filepath.Join(t.TempDir(), "records.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	first := storagetest.NewRecord(100, 1, time.Hour)
	if err := r.Create(t.Context(), first, 150); err != nil {
		t.Fatal(err)
	}
	before := r.group.txs.Load()
	if err := r.Create(t.Context(), storagetest.NewRecord(100, 1, time.Hour), 150); !errors.Is(err, storage.ErrQuota) {
		t.Fatalf("create over quota: %v, want ErrQuota", err)
	}
	if err := r.Create(t.Context(), first, 0); !errors.Is(err, storage.ErrExists) {
		t.Fatalf("create again: %v, want ErrExists", err)
	}
	if n := r.group.txs.Load() - before; n != 0 {
		t.Fatalf("refused creates ran %d write transactions, want 0", n)
	}
}
