package client

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/xftp/xftp/chunk"
)

// uploadWithKey uploads the file at path under a file key of the caller's
// choice, as anyone holding a description (and so its key) can: through
// an upload state that carries the key.
func uploadWithKey(t *testing.T, path string, key []byte, srv []string) *chunk.Description {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(t.TempDir(), "upload.state")
	b, _ := json.Marshal(uploadState{Version: stateVersion, Name: filepath.Base(path), Size: fi.Size(),
		ModTime: fi.ModTime().UnixNano(), Key: key, Servers: srv, Recipients: 1, Data: 1})
	if err := os.WriteFile(state, b, 0o600); err != nil {
		t.Fatal(err)
	}
	up, err := UploadFile(context.Background(), UploadFileRequest{Path: path, Servers: srv, Recipients: 1, StateFile: state}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return up.Recipients[0]
}

// interruptedDownload downloads d with Resume into out and cancels it
// after a few chunks, leaving a partial file behind.
func interruptedDownload(t *testing.T, d *chunk.Description, out string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var n atomic.Int32
	_, err := DownloadFile(ctx, DownloadFileRequest{Description: d, Output: out, Resume: true}, Options{Parallel: 1, Progress: func(e Event) {
		if !e.Retry && n.Add(1) == 3 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted download: %v", err)
	}
}

// TestResumeIsBoundToTheWholeDescription: a co-recipient who knows the
// file key makes another file under it and gets the victim to start
// downloading it; the victim's later download of the real description
// does not resume from that partial, and delivers the real file (issue
// 20, item 3).
func TestResumeIsBoundToTheWholeDescription(t *testing.T) {
	relays := startRelays(t, 1)
	srv := servers(relays...)
	real := writeRandomFile(t, t.TempDir(), 700000, 61)
	up, err := UploadFile(context.Background(), UploadFileRequest{Path: real, Servers: srv, Recipients: 1}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := up.Recipients[0]
	if len(d.Chunks) < 5 {
		t.Fatalf("the file has %d chunks; the test needs several", len(d.Chunks))
	}
	planted := uploadWithKey(t, writeRandomFile(t, t.TempDir(), 700000, 62), d.Key, srv)

	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	interruptedDownload(t, planted, out)
	if _, err := DownloadFile(context.Background(), DownloadFileRequest{Description: d, Output: out, Resume: true}, Options{}); err != nil {
		t.Fatal(err)
	}
	if fileDigest(t, out) != fileDigest(t, real) {
		t.Fatal("the download of the real description holds the planted file's bytes")
	}
}

// TestResumeChecksThePartialAgain: a partial file changed on disk after it
// was saved is caught before the file is used; the changed chunks are
// fetched again, with a warning (issue 20, item 3).
func TestResumeChecksThePartialAgain(t *testing.T) {
	relays := startRelays(t, 1)
	in := writeRandomFile(t, t.TempDir(), 700000, 63)
	up, err := UploadFile(context.Background(), UploadFileRequest{Path: in, Servers: servers(relays...), Recipients: 1}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	interruptedDownload(t, up.Recipients[0], out)
	partials, _ := filepath.Glob(filepath.Join(dir, ".xftp-*.partial"))
	if len(partials) != 1 {
		t.Fatalf("partials: %v", partials)
	}
	f, err := os.OpenFile(partials[0], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Chunk 1 starts at 256 KiB of ciphertext; its plaintext is a little
	// before that offset in the file. Change bytes well inside it.
	if _, err := f.WriteAt([]byte("planted bytes"), 300000); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var mu sync.Mutex
	var warns []string
	if _, err := DownloadFile(context.Background(), DownloadFileRequest{Description: up.Recipients[0], Output: out, Resume: true},
		Options{Warn: func(s string) { mu.Lock(); warns = append(warns, s); mu.Unlock() }}); err != nil {
		t.Fatal(err)
	}
	if fileDigest(t, out) != fileDigest(t, in) {
		t.Fatal("the resumed download holds bytes changed in its partial file")
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "no longer match") {
		t.Fatalf("warnings: %q", warns)
	}
}

// TestWideStripesAreRefused: a description whose stripes would hold more
// than maxStripeMemory (65+1 chunks of 4 MiB) is refused before anything
// is fetched (issue 20, item 15).
func TestWideStripesAreRefused(t *testing.T) {
	r := startRelays(t, 1)[0]
	_, key, _ := ed25519.GenerateKey(nil)
	ref := func(n int) chunk.ChunkRef {
		return chunk.ChunkRef{Number: n, Size: chunk.Size4M, Replicas: []chunk.Replica{{Server: r.Address.String(), ID: make([]byte, 24), Key: key}}}
	}
	d := &chunk.Description{Version: chunk.DescriptionVersion, Party: chunk.PartyRecipient, Key: make([]byte, chunk.KeySize),
		Erasure: chunk.ErasureParams{Data: 65, Parity: 1}}
	for i := range 65 {
		d.Chunks = append(d.Chunks, ref(i+1))
		d.Size += chunk.Size4M
	}
	d.Parity = []chunk.ChunkRef{ref(1)}
	if err := d.Validate(); err != nil {
		t.Fatalf("the test description: %v", err)
	}
	_, err := DownloadFile(context.Background(), DownloadFileRequest{Description: d, Output: filepath.Join(t.TempDir(), "out")}, Options{Attempts: 1})
	if err == nil || !strings.Contains(err.Error(), "per stripe in memory") {
		t.Fatalf("download of a 65+1 striping: %v", err)
	}
}
