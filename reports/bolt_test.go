package reports_test

import (
	"path/filepath"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/xftp/xftp/reports"
	"github.com/xftp/xftp/reports/reportstest"
)

func TestBolt(t *testing.T) {
	reportstest.Run(t, func(t *testing.T) reports.Store {
		db, err := bbolt.Open(filepath.Join(t.TempDir(), "r.db"), 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		s, err := reports.NewBolt(db, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
