package embedded

import (
	"path/filepath"
	"testing"
	"time"

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
