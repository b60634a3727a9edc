package embedded

import (
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/xftp/xftp/blocklist"
	"github.com/xftp/xftp/blocklist/blocklisttest"
)

func TestBlocklistContract(t *testing.T) {
	blocklisttest.TestStore(t, func(t *testing.T) blocklist.Store {
		db, err := bolt.Open(filepath.Join(t.TempDir(), "xftpd.db"), 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		s, err := newBlocklist(db)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// The store keeps to its bucket, so the server can share the file.
func TestBlocklistSharesDatabase(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "xftpd.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("chunks"))
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), []byte("v"))
	}); err != nil {
		t.Fatal(err)
	}
	s, err := newBlocklist(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newBlocklist(db); err != nil { // reopening is fine
		t.Fatal(err)
	}
	es, _, err := s.List(t.Context(), "", 10)
	if err != nil || len(es) != 0 {
		t.Fatalf("List = %d entries, %v; want none", len(es), err)
	}
	if err := db.View(func(tx *bolt.Tx) error {
		if string(tx.Bucket([]byte("chunks")).Get([]byte("k"))) != "v" {
			t.Error("other bucket changed")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
