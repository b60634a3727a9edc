package client

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
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
}
