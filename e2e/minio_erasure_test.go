package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xftp/xftp/chunk"
	"github.com/xftp/xftp/client"
	"github.com/xftp/xftp/internal/testenv"
)

// withoutDockerenv is a shell script that runs its arguments in a private
// mount namespace whose root lacks /.dockerenv: MinIO refuses loopback
// endpoints in distributed mode when it finds that file (it takes the
// machine for a container whose addresses are not its own). Every entry
// of / but the hidden ones is bind-mounted into a fresh root, which chroot
// enters: a fixed list of folders missed the checkout's own (CI checks
// out under /check, which the list lacked, and the chroot could not cd).
const withoutDockerenv = `
root=$1; cwd=$2; shift 2
for p in /*; do
	d=${p#/}
	if [ -L "$p" ]; then ln -s "$(readlink "$p")" "$root/$d" || exit 1; continue; fi
	if [ -d "$p" ]; then mkdir -p "$root/$d" || exit 1; else : > "$root/$d" || exit 1; fi
	mount --rbind "$p" "$root/$d" || exit 1
done
exec chroot "$root" sh -c 'cd "$0" && exec "$@"' "$cwd" "$@"
`

// erasureMinio is one MinIO process of an erasure-coded set.
type erasureMinio struct {
	t    *testing.T
	args []string
	addr string
	cmd  *exec.Cmd
	home string
}

func (m *erasureMinio) start() {
	root, err := os.MkdirTemp("", "xftp-nodockerenv-")
	if err != nil {
		m.t.Fatal(err)
	}
	m.t.Cleanup(func() { os.RemoveAll(root) }) // only empty folders: the mounts were private
	cwd, _ := os.Getwd()
	args := append([]string{"-m", "--propagation", "private", "sh", "-c", withoutDockerenv, "sh", root, cwd,
		testenv.MinIOBinary(m.t), "server"}, m.args...)
	m.cmd = exec.Command("unshare", args...)
	// MINIO_CI_CD: the drives are folders on the root disk, which MinIO
	// otherwise refuses in an erasure set ("drive not found").
	m.cmd.Env = append(os.Environ(), "HOME="+m.home, "MINIO_ROOT_USER=xftperasure", "MINIO_ROOT_PASSWORD=xftp-erasure-secret",
		"MINIO_BROWSER=off", "MINIO_CI_CD=1")
	log, _ := os.Create(filepath.Join(m.home, "minio.log"))
	m.cmd.Stdout, m.cmd.Stderr = log, log
	if err := m.cmd.Start(); err != nil {
		m.t.Fatal(err)
	}
}

func (m *erasureMinio) kill() {
	if m.cmd != nil {
		m.cmd.Process.Kill()
		m.cmd.Wait()
		m.cmd = nil
	}
}

func (m *erasureMinio) log() string {
	b, _ := os.ReadFile(filepath.Join(m.home, "minio.log"))
	return string(b[max(0, len(b)-2000):])
}

// startErasureMinio starts nodes MinIO processes with drives drives each,
// every process listing every drive, and waits until the set is ready
// for writes.
func startErasureMinio(t *testing.T, nodes, drives int) (ms []*erasureMinio, dir string) {
	t.Helper()
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Fatal("unshare (util-linux) is needed to hide /.dockerenv from MinIO")
	}
	dir = t.TempDir()
	var endpoints []string
	ports := make([]int, nodes)
	for n := range nodes {
		ports[n] = freePort(t)
		for d := range drives {
			p := filepath.Join(dir, fmt.Sprintf("n%d", n+1), fmt.Sprintf("d%d", d+1))
			os.MkdirAll(p, 0o700)
			if nodes > 1 {
				endpoints = append(endpoints, fmt.Sprintf("http://127.0.0.1:%d%s", ports[n], p))
			} else {
				endpoints = append(endpoints, p)
			}
		}
	}
	for n := range nodes {
		home := filepath.Join(dir, fmt.Sprintf("home%d", n+1))
		os.MkdirAll(home, 0o700)
		m := &erasureMinio{t: t, home: home, addr: fmt.Sprintf("127.0.0.1:%d", ports[n]),
			args: append(append([]string{}, endpoints...), "--address", fmt.Sprintf("127.0.0.1:%d", ports[n]),
				"--console-address", fmt.Sprintf("127.0.0.1:%d", freePort(t)))}
		m.start()
		t.Cleanup(m.kill)
		ms = append(ms, m)
	}
	deadline := time.Now().Add(90 * time.Second)
	for _, m := range ms {
		for {
			resp, err := http.Get("http://" + m.addr + "/minio/health/cluster")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("MinIO at %s did not become ready:\n%s", m.addr, m.log())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return ms, dir
}

// erasureDaemon starts xftpd on the MinIO set (all its endpoints listed)
// and the standalone test Redis.
func erasureDaemon(t *testing.T, ms []*erasureMinio) *daemon {
	t.Helper()
	var eps []string
	for _, m := range ms {
		eps = append(eps, m.addr)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "xftpd.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`storage:
  backend: s3
  s3:
    endpoints: [%s]
    bucket: erasure
    access_key: xftperasure
    use_tls: false
    path_style: true
    create_bucket: true
records:
  backend: redis
redis:
  address: %s
  prefix: "%s:"
`, strings.Join(eps, ", "), testenv.Redis(t), randomName("erasure-"))), 0o600)
	t.Setenv("XFTPD_S3_SECRET_KEY", "xftp-erasure-secret")
	return startDaemon(t, filepath.Join(dir, "data"), "--config", cfg)
}

// uploadFiles uploads n files of 300 KiB (each a few chunks) and returns
// their recipient descriptions and bodies.
func uploadFiles(t *testing.T, server string, n int) ([]*chunk.Description, [][]byte) {
	t.Helper()
	dir := t.TempDir()
	var descs []*chunk.Description
	var bodies [][]byte
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("f%d.bin", i))
		bodies = append(bodies, writeRandom(t, p, 300<<10))
		up, err := client.UploadFile(t.Context(), client.UploadFileRequest{Path: p, Servers: []string{server}, Recipients: 1}, client.Options{})
		if err != nil {
			t.Fatalf("upload %d: %v", i, err)
		}
		descs = append(descs, up.Recipients[0])
	}
	return descs, bodies
}

func downloadAll(t *testing.T, descs []*chunk.Description, bodies [][]byte, what string) {
	t.Helper()
	dir := t.TempDir()
	for i, d := range descs {
		out := filepath.Join(dir, fmt.Sprintf("out%d", i))
		if _, err := client.DownloadFile(t.Context(), client.DownloadFileRequest{Description: d, Output: out, Keep: true}, client.Options{}); err != nil {
			t.Fatalf("%s: download %d: %v", what, i, err)
		}
		if string(mustRead(t, out)) != string(bodies[i]) {
			t.Fatalf("%s: file %d differs", what, i)
		}
	}
}

// tryUploads makes n single attempts at uploading (no retries) and
// returns how many succeeded and the longest time one took; each that
// succeeded must download.
func tryUploads(t *testing.T, server string, n int) (ok int, longest time.Duration) {
	t.Helper()
	dir := t.TempDir()
	var mu sync.Mutex
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("try%d.bin", i))
		body := writeRandom(t, p, 100<<10)
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute) // a safety net, not the measure
		start := time.Now()
		up, err := client.UploadFile(ctx, client.UploadFileRequest{Path: p, Servers: []string{server}, Recipients: 1},
			client.Options{Attempts: 1, RetryFor: -1})
		took := time.Since(start)
		cancel()
		mu.Lock()
		longest = max(longest, took)
		mu.Unlock()
		if err != nil {
			t.Logf("upload attempt %d failed after %v: %v", i, took.Round(time.Millisecond), err)
			continue
		}
		ok++
		downloadAll(t, up.Recipients, [][]byte{body}, "an upload made during the fault")
	}
	return ok, longest
}

// TestMinioErasureTwoDrivesWiped: one MinIO with 4 drives (erasure coded,
// 2 data + 2 parity); two drives are wiped while xftpd runs. Every file
// stored before still downloads, and each upload either succeeds (and
// downloads) or fails without hanging.
func TestMinioErasureTwoDrivesWiped(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts MinIO in a mount namespace")
	}
	ms, dir := startErasureMinio(t, 1, 4)
	d := erasureDaemon(t, ms)
	descs, bodies := uploadFiles(t, d.addr, 4)
	for _, drive := range []string{"d3", "d4"} {
		p := filepath.Join(dir, "n1", drive)
		entries, _ := os.ReadDir(p)
		for _, e := range entries {
			os.RemoveAll(filepath.Join(p, e.Name()))
		}
	}
	downloadAll(t, descs, bodies, "two drives wiped")
	ok, longest := tryUploads(t, d.addr, 4)
	t.Logf("two of four drives wiped: %d of 4 uploads succeeded, the longest attempt took %v", ok, longest.Round(time.Millisecond))
	downloadAll(t, descs, bodies, "after the uploads")
}

// TestMinioErasureNodeKilled: two MinIO processes with 2 drives each, one
// erasure set over the four; one process is killed (kill -9). Downloads
// keep working (any two of four drives hold the data), uploads fail fast
// (a write needs three) or succeed, and xftpd's clean-up deletes, which
// MinIO does not answer while a node is down, do not hold the answer.
func TestMinioErasureNodeKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts MinIO in a mount namespace")
	}
	ms, _ := startErasureMinio(t, 2, 2)
	d := erasureDaemon(t, ms)
	descs, bodies := uploadFiles(t, d.addr, 4)
	ms[1].kill()
	downloadAll(t, descs, bodies, "one of two nodes killed")
	ok, longest := tryUploads(t, d.addr, 3)
	t.Logf("one of two MinIO nodes killed: %d of 3 uploads succeeded, the longest attempt took %v", ok, longest.Round(time.Millisecond))
	downloadAll(t, descs, bodies, "after the uploads")
}
