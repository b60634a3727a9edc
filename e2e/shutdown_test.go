package e2e

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/api/httpclient"
)

// slowReader yields its bytes over about d, so an upload is in flight when
// the server is told to stop.
type slowReader struct {
	b     []byte
	step  int
	pause time.Duration
}

func (r *slowReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	time.Sleep(r.pause)
	n := copy(p[:min(len(p), r.step)], r.b)
	r.b = r.b[n:]
	return n, nil
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
	done := make(chan error, 1)
	go func() {
		done <- c.Upload(t.Context(), cr.SenderID, snd, &slowReader{b: body, step: 64 << 10, pause: 100 * time.Millisecond}, int64(len(body)))
	}()
	time.Sleep(400 * time.Millisecond) // the upload is under way
	d.cmd.Process.Signal(syscall.SIGTERM)
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
