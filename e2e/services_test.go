package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xftp/xftp/internal/testenv"
)

// needEnv returns the environment variable, or fails the test under CI
// (the test command starts the services) and skips it elsewhere.
func needEnv(t *testing.T, name string) string {
	t.Helper()
	return testenv.Need(t, name)
}

func randomName(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// scaleOutConfig writes a config for a replica on the shared MinIO bucket
// and Redis, and returns its path.
func scaleOutConfig(t *testing.T, dir, bucket, redisAddr, redisPrefix string) string {
	t.Helper()
	cfg := fmt.Sprintf(`storage:
  backend: s3
  s3:
    endpoint: %s
    bucket: %s
    access_key: %s
    use_tls: false
    path_style: true
    create_bucket: true
    prefix: chunks/
records:
  backend: redis
redis:
  address: %s
  prefix: "%s"
`, needEnv(t, "XFTP_TEST_S3_ENDPOINT"), bucket, needEnv(t, "XFTP_TEST_S3_ACCESS_KEY"), redisAddr, redisPrefix)
	p := filepath.Join(dir, "xftpd.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// redisServer is a private redis-server for tests that stop and restart it.
type redisServer struct {
	t    *testing.T
	bin  string
	dir  string
	port int
	cmd  *exec.Cmd
}

func startRedis(t *testing.T) *redisServer {
	t.Helper()
	bin := os.Getenv("XFTP_TEST_REDIS_SERVER")
	if bin == "" {
		if p, err := exec.LookPath("redis-server"); err == nil {
			bin = p
		} else {
			needEnv(t, "XFTP_TEST_REDIS_SERVER")
		}
	}
	r := &redisServer{t: t, bin: bin, dir: t.TempDir(), port: freePort(t)}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *redisServer) addr() string { return fmt.Sprintf("127.0.0.1:%d", r.port) }

func (r *redisServer) start() {
	r.cmd = exec.Command(r.bin, "--port", fmt.Sprint(r.port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "yes", "--appendfsync", "always", "--dir", r.dir)
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	waitDial(r.t, r.addr())
}

func (r *redisServer) stop() {
	if r.cmd != nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
		r.cmd = nil
	}
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func waitDial(t *testing.T, addr string) {
	t.Helper()
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not come up", addr)
}

// hostOf returns host:port of an xftp:// address.
func hostOf(addr string) string { return addr[strings.LastIndex(addr, "@")+1:] }

// withHost returns addr pointing at another host:port, same fingerprint.
func withHost(addr, host string) string { return addr[:strings.LastIndex(addr, "@")+1] + host }
