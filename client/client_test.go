package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/xftp/xftp/chunk"
	"github.com/xftp/xftp/internal/testrelay"
	"github.com/xftp/xftp/server"
)

const hdr = 512 // chunk.HeaderSize

// writeRandomFile writes n deterministic pseudo-random bytes, streaming.
func writeRandomFile(t testing.TB, dir string, n int64, seed uint64) string {
	t.Helper()
	p := filepath.Join(dir, "input.bin")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := rand.New(rand.NewPCG(seed, seed))
	buf := make([]byte, 1<<20)
	for n > 0 {
		m := min(int64(len(buf)), n)
		for i := 0; i < int(m); i += 8 {
			v := r.Uint64()
			for j := 0; j < 8 && i+j < int(m); j++ {
				buf[i+j] = byte(v >> (8 * j))
			}
		}
		if _, err := f.Write(buf[:m]); err != nil {
			t.Fatal(err)
		}
		n -= m
	}
	return p
}

func fileDigest(t testing.TB, p string) [32]byte {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	var d [32]byte
	h.Sum(d[:0])
	return d
}

func servers(rs ...*testrelay.Relay) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Address.String())
	}
	return out
}

func TestRoundTripBoundarySizes(t *testing.T) {
	a, b := testrelay.Start(t, nil), testrelay.Start(t, nil)
	seg := int64(65520) // plaintext per sealed 64 KiB segment
	sizes := []int64{0, 1, 7 << 20}
	for _, c := range []int64{64 << 10, 256 << 10, 1 << 20, 4 << 20} {
		// Files whose padded payload lands just below, on and just above
		// each chunk size.
		payload := c / 65536 * seg
		for _, d := range []int64{-1, 0, 1} {
			sizes = append(sizes, payload-hdr+d)
		}
	}
	if !testing.Short() {
		sizes = append(sizes, 100<<20+12345)
	}
	ctx := context.Background()
	for _, n := range sizes {
		dir := t.TempDir()
		in := writeRandomFile(t, dir, n, uint64(n))
		up, err := UploadFile(ctx, UploadFileRequest{Path: in, Servers: servers(a, b), Recipients: 2}, Options{})
		if err != nil {
			t.Fatalf("%d bytes: upload: %v", n, err)
		}
		var total int64
		for _, c := range append(up.Recipients[0].Chunks, up.Recipients[0].Parity...) {
			total += c.Size
		}
		if total != up.Encrypted || up.Size != n {
			t.Fatalf("%d bytes: sizes in result are inconsistent", n)
		}
		for r, d := range up.Recipients {
			out := filepath.Join(dir, "out")
			res, err := DownloadFile(ctx, DownloadFileRequest{Description: d, Output: out}, Options{})
			if err != nil {
				t.Fatalf("%d bytes, recipient %d: download: %v", n, r+1, err)
			}
			if res.Size != n || res.Name != "input.bin" || fileDigest(t, out) != fileDigest(t, in) {
				t.Fatalf("%d bytes, recipient %d: downloaded file differs", n, r+1)
			}
			os.Remove(out)
		}
		if _, err := Delete(ctx, up.Sender, Options{}); err != nil {
			t.Fatalf("%d bytes: delete: %v", n, err)
		}
	}
}

func TestChunksSpreadAcrossServers(t *testing.T) {
	relays := []*testrelay.Relay{testrelay.Start(t, nil), testrelay.Start(t, nil), testrelay.Start(t, nil)}
	in := writeRandomFile(t, t.TempDir(), 700<<10, 1) // 2 x 256 KiB + 3 x 64 KiB
	up, err := UploadFile(context.Background(), UploadFileRequest{Path: in, Servers: servers(relays...), Recipients: 1, DataShards: 1}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range relays {
		u, _ := r.Service.Usage(context.Background())
		if up.Chunks != 5 || u.Chunks < int64(up.Chunks/3) {
			t.Fatalf("server holds %d of %d chunks, want an even spread", u.Chunks, up.Chunks)
		}
	}
}

// download runs Download into dir/out and returns the error.
func download(t *testing.T, d *chunk.Description, dir string) error {
	_, err := DownloadFile(context.Background(), DownloadFileRequest{Description: d, Output: filepath.Join(dir, "out")}, Options{Attempts: 2})
	return err
}

func assertNoOutput(t *testing.T, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.Name() == "out" || strings.HasPrefix(e.Name(), ".xftp-download") {
			t.Fatalf("a failed download left %s", e.Name())
		}
	}
}

func TestTamperDetection(t *testing.T) {
	r := testrelay.Start(t, nil)
	dir := t.TempDir()
	in := writeRandomFile(t, dir, 300<<10, 2)
	up, err := UploadFile(context.Background(), UploadFileRequest{Path: in, Servers: servers(r), Recipients: 1}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	desc := up.Recipients[0]
	t.Run("description digest", func(t *testing.T) {
		d := *desc
		d.Chunks = append([]chunk.ChunkRef{}, desc.Chunks...)
		d.Chunks[0].Digest[3] ^= 1
		out := t.TempDir()
		if err := download(t, &d, out); err == nil {
			t.Fatal("a description with a wrong digest downloaded")
		}
		assertNoOutput(t, out)
	})
	t.Run("description key", func(t *testing.T) {
		d := *desc
		d.Key = bytes.Clone(desc.Key)
		d.Key[0] ^= 1
		out := t.TempDir()
		if err := download(t, &d, out); err == nil {
			t.Fatal("a description with a wrong key downloaded")
		}
		assertNoOutput(t, out)
	})
	t.Run("stored chunk", func(t *testing.T) {
		n := 0
		filepath.Walk(filepath.Join(r.Dir, "chunks"), func(p string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() && n == 0 {
				b, _ := os.ReadFile(p)
				b[len(b)-1] ^= 1
				os.WriteFile(p, b, 0o600)
				n++
			}
			return nil
		})
		out := t.TempDir()
		if err := download(t, desc, out); err == nil {
			t.Fatal("a corrupted stored chunk downloaded")
		}
		assertNoOutput(t, out)
	})
}

func TestTransientFailuresAreRetried(t *testing.T) {
	r := testrelay.Start(t, nil)
	var fails atomic.Int32
	fails.Store(3)
	r.Wrap = func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.URL.Path != "/v1/identity" && fails.Add(-1) >= 0 {
				w.Header().Set("Retry-After", "0")
				w.WriteHeader(http.StatusServiceUnavailable)
				w.Write([]byte(`{"error":"UNAVAILABLE"}`))
				return
			}
			next.ServeHTTP(w, req)
		})
	}
	dir := t.TempDir()
	in := writeRandomFile(t, dir, 100<<10, 3)
	var retries atomic.Int32
	o := Options{Progress: func(e Event) {
		if e.Retry {
			retries.Add(1)
		}
	}}
	up, err := UploadFile(context.Background(), UploadFileRequest{Path: in, Servers: servers(r), Recipients: 1}, o)
	if err != nil {
		t.Fatalf("upload with transient failures: %v", err)
	}
	fails.Store(2)
	out := filepath.Join(dir, "out")
	if _, err := DownloadFile(context.Background(), DownloadFileRequest{Description: up.Recipients[0], Output: out}, o); err != nil {
		t.Fatalf("download with transient failures: %v", err)
	}
	if fileDigest(t, out) != fileDigest(t, in) || retries.Load() < 5 {
		t.Fatalf("round trip differs or retries not reported (%d)", retries.Load())
	}
}

func TestDeadServerFailsClearly(t *testing.T) {
	r := testrelay.Start(t, nil)
	dir := t.TempDir()
	in := writeRandomFile(t, dir, 10, 4)
	up, err := UploadFile(context.Background(), UploadFileRequest{Path: in, Servers: servers(r), Recipients: 1}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r.Stop()
	if err := download(t, up.Recipients[0], dir); err == nil || !strings.Contains(err.Error(), "chunk 1") {
		t.Fatalf("download from a dead server: %v", err)
	}
	assertNoOutput(t, dir)
}

func TestWrongPartyRefused(t *testing.T) {
	r := testrelay.Start(t, nil)
	dir := t.TempDir()
	in := writeRandomFile(t, dir, 10, 5)
	up, err := UploadFile(context.Background(), UploadFileRequest{Path: in, Servers: servers(r), Recipients: 1}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := download(t, up.Sender, dir); !errors.Is(err, ErrNotRecipient) {
		t.Fatalf("download with a sender description: %v", err)
	}
	if _, err := Delete(context.Background(), up.Recipients[0], Options{}); err == nil {
		t.Fatal("delete with a recipient description succeeded")
	}
}

func TestDownloadWithoutOutputPicksFreeName(t *testing.T) {
	r := testrelay.Start(t, nil)
	dir := t.TempDir()
	in := writeRandomFile(t, dir, 1000, 6)
	up, err := UploadFile(context.Background(), UploadFileRequest{Path: in, Servers: servers(r), Recipients: 1}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := DownloadFile(context.Background(), DownloadFileRequest{Description: up.Recipients[0], Dir: dir, Keep: true}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Path != filepath.Join(dir, "input (1).bin") {
		t.Fatalf("downloaded to %s; the existing input.bin must not be overwritten", res.Path)
	}
}

func TestSafeName(t *testing.T) {
	for in, want := range map[string]string{
		"photo.jpg": "photo.jpg", ".bashrc": "bashrc", "a\nb": "a_b", "..": "xftp-file", "x\x1b[31m": "x_[31m",
		// Issue 20, item 15: bidi and other format characters.
		"evil\u202egpj.exe": "evil_gpj.exe", "a\u200bb": "a_b", "\u2066x\u2069": "_x_", "\ufeffname": "_name",
		"résumé – 履歴書.pdf": "résumé – 履歴書.pdf",
	} {
		if got := safeName(in); got != want {
			t.Errorf("safeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestManyRecipientsAndNoPasswordInDescriptions(t *testing.T) {
	cfg := server.DefaultConfig()
	cfg.Password = "upload-secret"
	r := testrelay.Start(t, &cfg)
	dir := t.TempDir()
	in := writeRandomFile(t, dir, 1000, 7)
	up, err := UploadFile(context.Background(), UploadFileRequest{Path: in, Servers: servers(r), Recipients: 450}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(up.Recipients) != 450 {
		t.Fatalf("%d recipient descriptions", len(up.Recipients))
	}
	for _, d := range []*chunk.Description{up.Sender, up.Recipients[0], up.Recipients[449]} {
		b, _ := d.Marshal()
		if strings.Contains(string(b), "upload-secret") {
			t.Fatal("a description carries the upload password")
		}
	}
	out := filepath.Join(dir, "out")
	if _, err := DownloadFile(context.Background(), DownloadFileRequest{Description: up.Recipients[449], Output: out}, Options{}); err != nil {
		t.Fatalf("the 450th recipient cannot download: %v", err)
	}
}
