package disk

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xftp/xftp/storage"
	"github.com/xftp/xftp/storage/storagetest"
)

func TestContract(t *testing.T) {
	storagetest.TestStore(t, func(t *testing.T) storage.Store {
		s, err := Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestOpenRemovesTempFiles(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "ab"), 0o700)
	tmp := filepath.Join(dir, "ab", tmpPrefix+"123")
	os.WriteFile(tmp, []byte("partial"), 0o600)
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Fatalf("temporary file survived Open: %v", err)
	}
}

func TestRejectsBadKeys(t *testing.T) {
	s, _ := Open(t.TempDir())
	for _, k := range []string{"", "../../etc/passwd", strings.Repeat("a", 23), strings.Repeat("/", 24)} {
		if _, err := s.Stat(t.Context(), k); err == nil {
			t.Errorf("Stat(%q) succeeded", k)
		}
	}
}

// BenchmarkPut64KiB stores 64 KiB bodies from 64 goroutines (the shape of
// many concurrent small uploads), each Put fsynced and renamed durably.
func BenchmarkPut64KiB(b *testing.B) {
	s, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	body := make([]byte, 64<<10)
	b.SetBytes(int64(len(body)))
	b.SetParallelism(32) // x GOMAXPROCS goroutines
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Put(context.Background(), storage.NewKey(), bytes.NewReader(body), int64(len(body))); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
