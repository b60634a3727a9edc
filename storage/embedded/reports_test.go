package embedded

import (
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/xftp/xftp/reports"
	"github.com/xftp/xftp/reports/reportstest"
)

func TestReportsContract(t *testing.T) {
	reportstest.Run(t, func(t *testing.T) reports.Store {
		db, err := bolt.Open(filepath.Join(t.TempDir(), "r.db"), 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		s, err := newReports(db, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
