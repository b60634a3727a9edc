package metrics

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/xftp/xftp/server"
	"github.com/xftp/xftp/storage"
	"github.com/xftp/xftp/storage/disk"
	"github.com/xftp/xftp/storage/embedded"
	"github.com/xftp/xftp/storage/storagetest"
)

// The decorators are backends too: they must pass the contract suites.
func TestDecoratorsPassContracts(t *testing.T) {
	m := New(prometheus.NewRegistry())
	storagetest.TestStore(t, func(t *testing.T) storage.Store {
		s, err := disk.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return InstrumentStore(s, m, "fs")
	})
	storagetest.TestRecords(t, func(t *testing.T) storage.Records {
		r, err := embedded.Open(filepath.Join(t.TempDir(), "r.db"), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return InstrumentRecords(r, m, "embedded")
	})
	if n := testutil.CollectAndCount(m.backend); n == 0 {
		t.Fatal("no backend latency observed")
	}
}

func TestExportedNamesHoldNoIDs(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	m.Count(server.EventCreated, 2)
	m.Bytes(server.EventUploaded, 4096)
	m.ObserveRequest("POST /v1/chunks/{id}/download", 200, time.Millisecond)
	RegisterUsage(reg, 1<<30, func(context.Context) (storage.Usage, error) { return storage.Usage{Chunks: 3, Bytes: 300}, nil })
	if got := testutil.ToFloat64(m.events.WithLabelValues("created")); got != 2 {
		t.Fatalf("created = %v", got)
	}
	expected := `
# HELP xftp_stored_chunks Chunks stored (created, uploaded or not); -1 if the record store is unreachable.
# TYPE xftp_stored_chunks gauge
xftp_stored_chunks 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(expected), "xftp_stored_chunks"); err != nil {
		t.Fatal(err)
	}
}
