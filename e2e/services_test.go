package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xftp/xftp/internal/testenv"
)

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
`, testenv.MinIO(t).Endpoint, bucket, testenv.MinIO(t).AccessKey, redisAddr, redisPrefix)
	p := filepath.Join(dir, "xftpd.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitDial waits until addr accepts connections.
func waitDial(t *testing.T, addr string) {
	t.Helper()
	testenv.Eventually(t, 5*time.Second, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, "%s did not come up", addr)
}

// hostOf returns host:port of an xftp:// address.
func hostOf(addr string) string { return addr[strings.LastIndex(addr, "@")+1:] }

// withHost returns addr pointing at another host:port, same fingerprint.
func withHost(addr, host string) string { return addr[:strings.LastIndex(addr, "@")+1] + host }
