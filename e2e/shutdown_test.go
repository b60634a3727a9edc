package e2e

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/api/httpclient"
	"github.com/xftp/xftp/internal/testenv"
)

// gatedReader yields its bytes up to gateAt, then waits for gate to be
// closed before the rest: an upload is provably in flight when the test
// acts.
type gatedReader struct {
	b      []byte
	given  int
	gateAt int
	gate   <-chan struct{}
}

func (r *gatedReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	if r.given >= r.gateAt {
		<-r.gate
	}
	limit := min(len(p), 64<<10)
	if r.given < r.gateAt {
		limit = min(limit, r.gateAt-r.given)
	}
	n := copy(p[:limit], r.b)
	r.b, r.given = r.b[n:], r.given+n
	return n, nil
}

// storing reports whether xftpd is writing a chunk body under data (the
// disk store's temporary file exists).
func storing(data string) bool {
	found := false
	filepath.WalkDir(data, func(_ string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() && strings.HasPrefix(e.Name(), ".tmp-") {
			found = true
			return filepath.SkipAll
		}
		return nil
	})
	return found
}

// TestGracefulShutdownFinishesTransfers sends SIGTERM while an upload is in
// flight: the upload completes and xftpd then exits cleanly.
func TestGracefulShutdownFinishesTransfers(t *testing.T) {
	d := startDaemon(t, t.TempDir())
	addr, err := api.ParseAddress(d.addr)
	if err != nil {
		t.Fatal(err)
	}
	c := httpclient.NewClient(addr, httpclient.ClientOptions{})
	defer c.Close()
	body := make([]byte, 1<<20)
	rand.Read(body)
	_, snd, _ := ed25519.GenerateKey(rand.Reader)
	rpub, _, _ := ed25519.GenerateKey(rand.Reader)
	cr, err := c.Create(t.Context(), snd, int64(len(body)), sha256.Sum256(body), []ed25519.PublicKey{rpub})
	if err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(gate) }) }
	t.Cleanup(open)
	done := make(chan error, 1)
	go func() {
		done <- c.Upload(t.Context(), cr.SenderID, snd, &gatedReader{b: body, gateAt: len(body) / 2, gate: gate}, int64(len(body)))
	}()
	// The upload is under way: xftpd is storing its first half.
	testenv.Eventually(t, 30*time.Second, func() bool { return storing(d.data) }, "xftpd is not storing the upload")
	d.cmd.Process.Signal(syscall.SIGTERM)
	open()
	if err := <-done; err != nil {
		t.Fatalf("an upload in flight at SIGTERM failed: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- d.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("xftpd exited with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("xftpd did not exit after the transfer finished")
	}
}
