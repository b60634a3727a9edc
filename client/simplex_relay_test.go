package client

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/xftp/xftp/api/xftp"
	"github.com/xftp/xftp/api/xftpclient"
	"github.com/xftp/xftp/chunk/simplex"
	"github.com/xftp/xftp/internal/testrelay"
	"github.com/xftp/xftp/server"
)

// The SimpleX transfers against real relays speaking XFTP (TLS, the
// native handshake, every command), in this process.

func startXFTPRelays(t *testing.T, n int) ([]*testrelay.Relay, []string) {
	var rs []*testrelay.Relay
	var addrs []string
	for range n {
		r := testrelay.Start(t, nil)
		rs = append(rs, r)
		addrs = append(addrs, r.XFTP.String())
	}
	return rs, addrs
}

func TestSimplexRelays(t *testing.T) {
	_, addrs := startXFTPRelays(t, 3)
	dir := t.TempDir()
	path, data := writeRandom(t, dir, "three.bin", 9<<20)
	ctx := context.Background()
	res, err := UploadSimplexFile(ctx, SimplexUploadFileRequest{Path: path, Servers: addrs, Recipients: 2}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Chunks < 3 || res.Servers < 2 {
		t.Logf("%d chunks on %d servers", res.Chunks, res.Servers)
	}
	d, err := simplex.ParseLink(res.Links[0])
	if err != nil {
		t.Fatal(err)
	}
	if d.Redirect == nil {
		t.Fatal("a multi-chunk file's link is not a redirect")
	}
	got, err := DownloadSimplexFile(ctx, SimplexDownloadFileRequest{Description: d, Dir: t.TempDir(), Resume: true}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(got.Path); !bytes.Equal(b, data) {
		t.Fatal("downloaded file differs")
	}
	// Acknowledged, the redirect's chunk too.
	if _, err := DownloadSimplexFile(ctx, SimplexDownloadFileRequest{Description: d, Dir: t.TempDir()}, Options{}); !errors.Is(err, xftp.ErrAuth) {
		t.Fatalf("download after ack: %v", err)
	}
	gone, err := DeleteSimplex(ctx, res.Sender, Options{})
	if err != nil || gone != 0 {
		t.Fatalf("delete: %d gone, %v", gone, err)
	}
	if _, err := DeleteSimplex(ctx, res.RedirectSenders[0], Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := DownloadSimplexFile(ctx, SimplexDownloadFileRequest{Description: res.Recipients[1], Dir: t.TempDir()}, Options{}); !errors.Is(err, xftp.ErrAuth) {
		t.Fatalf("download after delete: %v", err)
	}
}

// TestSimplexRelayResume: a download cut off after its first chunks
// continues with only the missing ones.
func TestSimplexRelayResume(t *testing.T) {
	_, addrs := startXFTPRelays(t, 1)
	path, data := writeRandom(t, t.TempDir(), "r.bin", 16<<20-100) // 4 chunks of 4 MiB
	res, err := UploadSimplexFile(context.Background(), SimplexUploadFileRequest{Path: path, Servers: addrs, RedirectThreshold: -1}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := res.Recipients[0]
	out := filepath.Join(t.TempDir(), "out.bin")
	ctx, cancel := context.WithCancel(context.Background())
	var first atomic.Int64
	_, err = DownloadSimplexFile(ctx, SimplexDownloadFileRequest{Description: d, Output: out, Resume: true}, Options{Parallel: 1, Progress: func(e Event) {
		if !e.Retry && first.Add(1) == 2 {
			cancel()
		}
	}})
	if err == nil || !strings.Contains(err.Error(), "kept") {
		t.Fatalf("interrupted download: %v", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("an interrupted download left its output")
	}
	var second atomic.Int64
	if _, err := DownloadSimplexFile(context.Background(), SimplexDownloadFileRequest{Description: d, Output: out, Resume: true}, Options{Progress: func(e Event) {
		if !e.Retry {
			second.Add(1)
		}
	}}); err != nil {
		t.Fatal(err)
	}
	if first.Load()+second.Load() != int64(len(d.Chunks)) || second.Load() >= int64(len(d.Chunks)) {
		t.Fatalf("fetched %d then %d of %d chunks", first.Load(), second.Load(), len(d.Chunks))
	}
	if b, _ := os.ReadFile(out); !bytes.Equal(b, data) {
		t.Fatal("resumed file differs")
	}
	if ents, _ := os.ReadDir(filepath.Dir(out)); len(ents) != 1 {
		t.Fatalf("left %d files", len(ents))
	}
}

// TestSimplexRelayStoredCorruption: a body altered in the relay's store
// fails the download clearly and leaves nothing.
func TestSimplexRelayStoredCorruption(t *testing.T) {
	rs, addrs := startXFTPRelays(t, 1)
	path, _ := writeRandom(t, t.TempDir(), "c.bin", 100<<10)
	res, err := UploadSimplexFile(context.Background(), SimplexUploadFileRequest{Path: path, Servers: addrs}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	filepath.WalkDir(filepath.Join(rs[0].Dir, "chunks"), func(p string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			if b, err := os.ReadFile(p); err == nil && len(b) > 1000 {
				b[len(b)/2] ^= 1
				os.WriteFile(p, b, 0o600)
				n++
			}
		}
		return nil
	})
	if n == 0 {
		t.Fatal("no stored body found")
	}
	dir := t.TempDir()
	_, err = DownloadSimplexFile(context.Background(), SimplexDownloadFileRequest{Description: res.Recipients[0], Output: filepath.Join(dir, "out")}, Options{Attempts: 2, RetryFor: -1})
	if err == nil {
		t.Fatal("a corrupted body downloaded")
	}
	if !strings.Contains(err.Error(), "server sent other data") {
		t.Fatalf("err = %v, want the chunk digest named", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("left %d files", len(ents))
	}
}

// TestSimplexWrongIdentity: a server whose key hash is not the address's
// is refused at once, without retries.
func TestSimplexWrongIdentity(t *testing.T) {
	rs, _ := startXFTPRelays(t, 1)
	a := rs[0].XFTP
	a.KeyHash[0] ^= 1
	path, _ := writeRandom(t, t.TempDir(), "w.bin", 10)
	_, err := UploadSimplexFile(context.Background(), SimplexUploadFileRequest{Path: path, Servers: []string{a.String()}}, Options{})
	if !errors.Is(err, xftpclient.ErrIdentity) || strings.Contains(err.Error(), "giving up") {
		t.Fatalf("err = %v", err)
	}
}

// TestSimplexUploadPassword: the address's upload password goes with FNEW;
// without it the relay refuses (AUTH), and downloads never need it.
func TestSimplexUploadPassword(t *testing.T) {
	cfg := server.DefaultConfig()
	cfg.Password = "s3cret-pass"
	r := testrelay.Start(t, &cfg)
	if r.XFTP.Password == "" {
		t.Fatal("the relay's XFTP address has no password")
	}
	path, data := writeRandom(t, t.TempDir(), "p.bin", 1000)
	res, err := UploadSimplexFile(context.Background(), SimplexUploadFileRequest{Path: path, Servers: []string{r.XFTP.String()}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(must(res.Recipients[0].Marshal())), "s3cret") || strings.Contains(string(must(res.Sender.Marshal())), "s3cret") {
		t.Fatal("a description carries the upload password")
	}
	got, err := DownloadSimplexFile(context.Background(), SimplexDownloadFileRequest{Description: res.Recipients[0], Dir: t.TempDir()}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(got.Path); !bytes.Equal(b, data) {
		t.Fatal("file differs")
	}
	noPass := r.XFTP
	noPass.Password = ""
	if _, err := UploadSimplexFile(context.Background(), SimplexUploadFileRequest{Path: path, Servers: []string{noPass.String()}}, Options{}); !errors.Is(err, xftp.ErrAuth) {
		t.Fatalf("upload without the password: %v", err)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
