package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/api/httpclient"
	"github.com/xftp/xftp/internal/testenv"
)

// replicaPair starts two xftpd replicas sharing one MinIO bucket, one Redis
// and one identity, as an operator scales out behind a load balancer.
func replicaPair(t *testing.T, redisAddr string) (a, b *daemon) {
	t.Helper()
	bucket := randomName("xftp-e2e-")
	prefix := randomName("xftpe2e-") + ":"
	dirA, dirB := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	os.MkdirAll(dirA, 0o700)
	os.MkdirAll(dirB, 0o700)
	t.Setenv("XFTPD_S3_SECRET_KEY", testenv.MinIO(t).SecretKey)
	a = startDaemon(t, dirA, "--config", scaleOutConfig(t, dirA, bucket, redisAddr, prefix))
	key, err := os.ReadFile(filepath.Join(dirA, "identity.pem"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dirB, "identity.pem"), key, 0o600)
	b = startDaemon(t, dirB, "--config", scaleOutConfig(t, dirB, bucket, redisAddr, prefix))
	if withHost(a.addr, "x") != withHost(b.addr, "x") {
		t.Fatalf("replicas have different identities: %s %s", a.addr, b.addr)
	}
	return a, b
}

// retarget rewrites every server address in a description file to host.
func retarget(t *testing.T, desc, from, to, out string) string {
	t.Helper()
	b, err := os.ReadFile(desc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, bytes.ReplaceAll(b, []byte(from), []byte(to)), 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

func sameFile(t *testing.T, a, b string) {
	t.Helper()
	da, db := digestFile(t, a), digestFile(t, b)
	if da != db {
		t.Fatalf("%s and %s differ", a, b)
	}
}

func digestFile(t *testing.T, p string) [32]byte {
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

func TestScaleOutReplicasShareState(t *testing.T) {
	a, b := replicaPair(t, testenv.Redis(t))
	dir := t.TempDir()
	file := filepath.Join(dir, "shared.bin")
	writeRandom(t, file, 9<<20)

	// Upload through A, download through B.
	mustOK(t, xftp(t, "upload", file, "--server", a.addr, "-q"), "upload via A")
	viaB := retarget(t, filepath.Join(file+".xftp", "rcv1.xftp"), hostOf(a.addr), hostOf(b.addr), filepath.Join(dir, "viaB.xftp"))
	out := filepath.Join(dir, "out.bin")
	mustOK(t, xftp(t, "download", viaB, "-o", out, "-q"), "download via B")
	sameFile(t, file, out)
	// Delete through B, refused through A afterwards.
	sndB := retarget(t, filepath.Join(file+".xftp", "snd.xftp.private"), hostOf(a.addr), hostOf(b.addr), filepath.Join(dir, "sndB.xftp"))
	mustOK(t, xftp(t, "delete", sndB), "delete via B")
	mustFail(t, xftp(t, "download", filepath.Join(file+".xftp", "rcv1.xftp"), "-o", out+"2", "-q"), "download via A after delete", "AUTH")
}

// TestScaleOutReplicaKilledMidUpload kills the replica an upload is going
// through (kill -9); the client's retries reach the other replica through
// the load balancer and finish, and every chunk is served.
func TestScaleOutReplicaKilledMidUpload(t *testing.T) {
	a, b := replicaPair(t, testenv.Redis(t))
	lb := startBalancer(t, hostOf(a.addr), hostOf(b.addr))
	lbAddr := withHost(a.addr, lb.addr())
	dir := t.TempDir()
	file := filepath.Join(dir, "big.bin")
	writeRandom(t, file, 64<<20) // 17 chunks of 4 MiB (the header needs one more)

	cmd := exec.Command(filepath.Join(bin, "xftp"), "upload", file, "--server", lbAddr, "--parallel", "2", "-v")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	killed := false
	sc := bufio.NewScanner(stderr)
	done := 0
	for sc.Scan() {
		line := sc.Text()
		log.WriteString(line + "\n")
		if strings.Contains(line, " done ") {
			done++
		}
		if done == 4 && !killed {
			a.cmd.Process.Kill() // kill -9, in the middle of the upload
			killed = true
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("upload did not survive the replica's death: %v\n%s", err, log.String())
	}
	if !killed || done != 17 {
		t.Fatalf("killed=%v after %d of 17 chunks\n%s", killed, done, log.String())
	}
	if !strings.Contains(log.String(), "retrying") {
		t.Logf("no retry was needed (the kill fell between requests):\n%s", log.String())
	}
	// Every chunk, also those committed through A, is served by B.
	viaB := retarget(t, filepath.Join(file+".xftp", "rcv1.xftp"), lb.addr(), hostOf(b.addr), filepath.Join(dir, "viaB.xftp"))
	out := filepath.Join(dir, "out.bin")
	mustOK(t, xftp(t, "download", viaB, "-o", out, "-q"), "download via B")
	sameFile(t, file, out)
}

// TestBackendOutage stops Redis under a running xftpd: requests get 503 with
// Retry-After and /readyz says not ready; when Redis comes back (AOF), the
// server recovers by itself and nothing acknowledged is lost.
func TestBackendOutage(t *testing.T) {
	redis := startAOFRedis(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "xftpd.yaml")
	os.WriteFile(cfg, []byte("records:\n  backend: redis\nredis:\n  address: "+redis.addr()+"\n"), 0o600)
	d := startDaemon(t, filepath.Join(dir, "data"), "--config", cfg)
	file := filepath.Join(dir, "f.bin")
	writeRandom(t, file, 300<<10)
	mustOK(t, xftp(t, "upload", file, "--server", d.addr, "-q"), "upload")

	addr, err := api.ParseAddress(d.addr)
	if err != nil {
		t.Fatal(err)
	}
	c := httpclient.NewClient(addr, httpclient.ClientOptions{})
	defer c.Close()
	_, snd, _ := ed25519.GenerateKey(rand.Reader)
	_, rcp, _ := ed25519.GenerateKey(rand.Reader)
	create := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := c.Create(ctx, snd, 64<<10, [32]byte{}, []ed25519.PublicKey{rcp.Public().(ed25519.PublicKey)})
		return err
	}
	redis.kill()
	var ae *api.Error
	if err := create(); !errors.As(err, &ae) || ae.Status != 503 || ae.Code != api.CodeUnavailable || ae.RetryAfter <= 0 {
		t.Fatalf("create with Redis down: %v, want 503 UNAVAILABLE with Retry-After", err)
	}
	if status := readyz(t, d.addr); status != 503 {
		t.Fatalf("/readyz with Redis down: %d", status)
	}
	redis.start()
	testenv.Eventually(t, 20*time.Second, func() bool { return readyz(t, d.addr) == 200 }, "xftpd did not recover after Redis came back")
	if err := create(); err != nil {
		t.Fatalf("create after recovery: %v", err)
	}
	out := filepath.Join(dir, "out.bin")
	mustOK(t, xftp(t, "download", filepath.Join(file+".xftp", "rcv1.xftp"), "-o", out, "-q"), "download after recovery")
	sameFile(t, file, out)
}
