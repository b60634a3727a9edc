package client

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	"github.com/xftp/xftp/internal/testrelay"
)

// An upload can read any io.ReaderAt instead of a file: what arrives is
// the same bytes under the given name.
func TestUploadFromReaderAt(t *testing.T) {
	r := testrelay.Start(t, nil)
	data := make([]byte, 300<<10)
	rnd := rand.New(rand.NewPCG(7, 7))
	for i := range data {
		data[i] = byte(rnd.Uint32())
	}
	ctx := context.Background()
	up, err := Upload(ctx, UploadRequest{Source: bytes.NewReader(data), Size: int64(len(data)), Name: "from-memory.bin",
		Servers: servers(r), Recipients: 1}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if up.Size != int64(len(data)) {
		t.Fatalf("Uploaded.Size = %d", up.Size)
	}
	got, err := Download(ctx, DownloadRequest{Description: up.Recipients[0], Dir: t.TempDir()}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(got.Path)
	if err != nil || !bytes.Equal(b, data) || got.Name != "from-memory.bin" {
		t.Fatalf("downloaded %d bytes named %q (%v), want the source's %d named from-memory.bin", len(b), got.Name, err, len(data))
	}

	// And a download can write into any io.WriterAt.
	up, err = Upload(ctx, UploadRequest{Source: bytes.NewReader(data), Size: int64(len(data)), Name: "again.bin",
		Servers: servers(r), Recipients: 1}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var dst syncWriterAt
	got, err = Download(ctx, DownloadRequest{Description: up.Recipients[0], Dest: &dst}, Options{})
	if err != nil || got.Size != int64(len(data)) || got.Name != "again.bin" || got.Path != "" {
		t.Fatalf("download into a WriterAt: %+v, %v", got, err)
	}
	if !bytes.Equal(dst.bytes(got.Size), data) {
		t.Fatal("the WriterAt holds other bytes")
	}
}

// syncWriterAt is an io.WriterAt in memory, safe for concurrent writes.
type syncWriterAt struct {
	mu sync.Mutex
	b  []byte
}

func (w *syncWriterAt) WriteAt(p []byte, off int64) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if n := int(off) + len(p); n > len(w.b) {
		w.b = append(w.b, make([]byte, n-len(w.b))...)
	}
	return copy(w.b[off:], p), nil
}

func (w *syncWriterAt) bytes(size int64) []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b[:min(size, int64(len(w.b)))]
}
