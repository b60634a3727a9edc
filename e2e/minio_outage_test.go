package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/api/httpclient"
	"github.com/xftp/xftp/internal/testenv"
)

// minioServer is a private MinIO for a test that stops and restarts it.
type minioServer struct {
	t         *testing.T
	bin, dir  string
	port      int
	user, key string
	cmd       *exec.Cmd
}

func startMinio(t *testing.T) *minioServer {
	t.Helper()
	m := &minioServer{t: t, bin: testenv.MinIOBinary(t), dir: t.TempDir(), port: freePort(t),
		user: "xftpoutage", key: randomName("secret-")}
	m.start()
	t.Cleanup(m.stop)
	return m
}

func (m *minioServer) addr() string { return fmt.Sprintf("127.0.0.1:%d", m.port) }

func (m *minioServer) start() {
	m.cmd = exec.Command(m.bin, "server", filepath.Join(m.dir, "data"), "--address", m.addr(),
		"--console-address", fmt.Sprintf("127.0.0.1:%d", freePort(m.t)))
	m.cmd.Env = append(os.Environ(), "HOME="+m.dir, "MINIO_ROOT_USER="+m.user, "MINIO_ROOT_PASSWORD="+m.key, "MINIO_BROWSER=off")
	if err := m.cmd.Start(); err != nil {
		m.t.Fatal(err)
	}
	waitDial(m.t, m.addr())
}

func (m *minioServer) stop() {
	if m.cmd != nil {
		m.cmd.Process.Kill()
		m.cmd.Wait()
		m.cmd = nil
	}
}

// TestMinioOutage stops MinIO under a running xftpd (S3 + Redis): uploads
// get 503 with Retry-After and /readyz says not ready; nothing half-stored
// is served; when MinIO is back the server recovers by itself, and what was
// acknowledged before the outage is intact.
func TestMinioOutage(t *testing.T) {
	m := startMinio(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "xftpd.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`storage:
  backend: s3
  s3:
    endpoint: %s
    bucket: outage
    access_key: %s
    use_tls: false
    path_style: true
    create_bucket: true
records:
  backend: redis
redis:
  address: %s
  prefix: "%s:"
`, m.addr(), m.user, testenv.Redis(t), randomName("outage-"))), 0o600)
	t.Setenv("XFTPD_S3_SECRET_KEY", m.key)
	d := startDaemon(t, filepath.Join(dir, "data"), "--config", cfg)
	file := filepath.Join(dir, "f.bin")
	writeRandom(t, file, 3<<20)
	mustOK(t, xftp(t, "upload", file, "--server", d.addr, "-q"), "upload before the outage")

	addr, _ := api.ParseAddress(d.addr)
	c := httpclient.NewClient(addr, httpclient.ClientOptions{})
	defer c.Close()
	body := make([]byte, 64<<10)
	rand.Read(body)
	_, snd, _ := ed25519.GenerateKey(rand.Reader)
	rpub, _, _ := ed25519.GenerateKey(rand.Reader)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cr, err := c.Create(ctx, snd, int64(len(body)), sha256.Sum256(body), []ed25519.PublicKey{rpub})
	if err != nil {
		t.Fatal(err)
	}
	m.stop()
	err = c.Upload(ctx, cr.SenderID, snd, bytes.NewReader(body), int64(len(body)))
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != 503 || ae.RetryAfter <= 0 {
		t.Fatalf("upload with MinIO down: %v, want 503 with Retry-After", err)
	}
	if s := readyz(t, d.addr); s != 503 {
		t.Fatalf("/readyz with MinIO down: %d", s)
	}
	m.start()
	testenv.Eventually(t, 30*time.Second, func() bool { return readyz(t, d.addr) == 200 }, "xftpd did not recover after MinIO came back")
	if err := c.Upload(ctx, cr.SenderID, snd, bytes.NewReader(body), int64(len(body))); err != nil {
		t.Fatalf("upload after recovery: %v", err)
	}
	out := filepath.Join(dir, "out.bin")
	mustOK(t, xftp(t, "download", filepath.Join(file+".xftp", "rcv1.xftp"), "-o", out, "-q"), "download after the outage")
	sameFile(t, file, out)
}
