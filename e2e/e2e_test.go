package e2e

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var bin string // directory holding the built binaries

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "xftp-e2e-bin")
	if err != nil {
		panic(err)
	}
	build := exec.Command("go", "build", "-o", dir+"/", "github.com/xftp/xftp/cmd/xftpd", "github.com/xftp/xftp/cmd/xftp")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building binaries:", err)
		os.Exit(1)
	}
	bin = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type daemon struct {
	cmd    *exec.Cmd
	addr   string
	data   string // its data directory
	stderr *syncBuffer
}

// startDaemon runs xftpd on data and waits for its address line.
func startDaemon(t *testing.T, data string, extra ...string) *daemon {
	t.Helper()
	args := append([]string{"--data", data, "--listen", "127.0.0.1:0"}, extra...)
	cmd := exec.Command(filepath.Join(bin, "xftpd"), args...)
	// Many daemons run at once: their admin APIs take free ports (each
	// writes its address to DATA/admin.address) unless a test says otherwise.
	cmd.Env = append([]string{"XFTPD_ADMIN_LISTEN=127.0.0.1:0"}, os.Environ()...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{cmd: cmd, data: data, stderr: &syncBuffer{}}
	cmd.Stderr = d.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		if s.Scan() {
			line <- s.Text()
		}
		close(line)
	}()
	select {
	case d.addr = <-line:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("xftpd printed no address; stderr:\n%s", d.stderr)
	}
	if !strings.HasPrefix(d.addr, "xftp://") {
		t.Fatalf("xftpd printed %q, want an xftp:// address; stderr:\n%s", d.addr, d.stderr)
	}
	t.Cleanup(func() { d.cmd.Process.Kill(); d.cmd.Wait() })
	return d
}

// stop sends SIGTERM and requires a clean exit.
func (d *daemon) stop(t *testing.T) {
	t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("xftpd exited with %v after SIGTERM; stderr:\n%s", err, d.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("xftpd did not stop after SIGTERM")
	}
}

type result struct {
	code           int
	stdout, stderr string
}

func xftp(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, "xftp"), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

func mustOK(t *testing.T, r result, what string) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("%s: exit %d\n%s", what, r.code, r.stderr)
	}
}

// mustFail requires a non-zero exit with exactly one line on stderr that
// contains want.
func mustFail(t *testing.T, r result, what, want string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if r.code == 0 || len(lines) != 1 || !strings.Contains(r.stderr, want) {
		t.Fatalf("%s: exit %d, stderr %q; want failure with one line containing %q", what, r.code, r.stderr, want)
	}
}

func writeRandom(t *testing.T, path string, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBinariesRoundTrip(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	d := startDaemon(t, data)
	if b, _ := os.ReadFile(filepath.Join(data, "address")); strings.TrimSpace(string(b)) != d.addr {
		t.Fatalf("DIR/address holds %q, stdout said %q", b, d.addr)
	}
	file := filepath.Join(dir, "report.pdf")
	want := writeRandom(t, file, 5<<20+333)

	up := xftp(t, "upload", file, "--server", d.addr, "--recipients", "2", "-q")
	mustOK(t, up, "upload")
	folder := file + ".xftp"
	for _, n := range []string{"rcv1.xftp", "rcv2.xftp", "snd.xftp.private"} {
		fi, err := os.Stat(filepath.Join(folder, n))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v (mode %v), want a 0600 file", n, err, fi.Mode())
		}
	}
	// Uploading again into the same folder is refused, not overwritten.
	mustFail(t, xftp(t, "upload", file, "--server", d.addr, "-q"), "second upload", "already exists")

	info := xftp(t, "info", filepath.Join(folder, "rcv1.xftp"))
	mustOK(t, info, "info")
	desc, _ := os.ReadFile(filepath.Join(folder, "rcv1.xftp"))
	for _, line := range strings.Split(string(desc), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "- ")), ": ")
		if ok && (k == "key" || k == "id" || k == "digest") && strings.Contains(info.stdout, v) {
			t.Fatalf("info shows the secret %s %q:\n%s", k, v, info.stdout)
		}
	}
	if !strings.Contains(info.stdout, "chunks:") || !strings.Contains(info.stdout, "recipient") {
		t.Fatalf("info says too little:\n%s", info.stdout)
	}

	out := filepath.Join(dir, "got.pdf")
	mustOK(t, xftp(t, "download", filepath.Join(folder, "rcv1.xftp"), "-o", out, "-q"), "download")
	if got, _ := os.ReadFile(out); !bytes.Equal(got, want) {
		t.Fatal("downloaded file differs")
	}
	// The link form downloads too (recipient 2, kept for later).
	link := xftp(t, "link", filepath.Join(folder, "rcv2.xftp"))
	mustOK(t, link, "link")
	out2 := filepath.Join(dir, "via-link.pdf")
	mustOK(t, xftp(t, "download", strings.TrimSpace(link.stdout), "-o", out2, "--keep", "-q"), "download by link")
	if got, _ := os.ReadFile(out2); !bytes.Equal(got, want) {
		t.Fatal("file downloaded by link differs")
	}
	// Recipient 1 acknowledged its chunks: a second download fails and
	// leaves nothing at -o.
	again := filepath.Join(dir, "again.pdf")
	mustFail(t, xftp(t, "download", filepath.Join(folder, "rcv1.xftp"), "-o", again, "-q"), "second download", "AUTH")
	if _, err := os.Stat(again); !os.IsNotExist(err) {
		t.Fatal("a failed download left a file at -o")
	}
	mustOK(t, xftp(t, "delete", filepath.Join(folder, "snd.xftp.private")), "delete")
	mustFail(t, xftp(t, "download", filepath.Join(folder, "rcv2.xftp"), "-o", again, "-q"), "download after delete", "AUTH")

	// Restart on the same data keeps the identity and address.
	d.stop(t)
	if !strings.Contains(d.stderr.String(), "stopped") {
		t.Fatalf("no clean shutdown message:\n%s", d.stderr)
	}
	d2 := startDaemon(t, data, "--listen", d.addr[strings.Index(d.addr, "@")+1:])
	if d2.addr != d.addr {
		t.Fatalf("address changed across restart: %s then %s", d.addr, d2.addr)
	}
	d2.stop(t)
}

func TestBinariesClearErrors(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, filepath.Join(dir, "data"))
	file := filepath.Join(dir, "f")
	writeRandom(t, file, 1000)
	// A wrong fingerprint fails before any command is sent.
	bad := strings.Replace(d.addr, "xftp://", "xftp://A", 1)
	bad = "xftp://" + strings.Repeat("A", 43) + bad[strings.Index(bad, "@"):]
	mustFail(t, xftp(t, "upload", file, "--server", bad, "-q"), "wrong fingerprint", "identity")
	mustFail(t, xftp(t, "upload", file, "--server", "http://nope", "-q"), "malformed address", "xftp://")
	mustFail(t, xftp(t, "upload", filepath.Join(dir, "missing"), "--server", d.addr, "-q"), "missing file", "no such file")
	mustFail(t, xftp(t, "download", file), "not a description", "description")
	mustFail(t, xftp(t, "upload", file), "no server", "--server")
	if _, err := os.Stat(file + ".xftp"); !os.IsNotExist(err) {
		t.Fatal("a failed upload left a descriptions folder")
	}
}

func TestDaemonRefusesBadConfig(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(filepath.Join(bin, "xftpd"), "--data", dir, "--listen", "127.0.0.1:0", "--quota", "lots")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--quota") {
		t.Fatalf("bad quota accepted: %v %s", err, out)
	}
	// A second xftpd on the same data directory fails clearly.
	startDaemon(t, dir)
	cmd = exec.Command(filepath.Join(bin, "xftpd"), "--data", dir, "--listen", "127.0.0.1:0")
	out, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "in use") {
		t.Fatalf("second xftpd on the same data: %v %s", err, out)
	}
}

// TestLinkRedirect: a description too long for a link is uploaded as a file
// and the printed link is a redirect to it, which downloads the file.
func TestLinkRedirect(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, filepath.Join(dir, "data"))
	file := filepath.Join(dir, "big.bin")
	want := writeRandom(t, file, 9<<20)
	mustOK(t, xftp(t, "upload", file, "--server", d.addr, "-q"), "upload")
	link := xftp(t, "link", filepath.Join(file+".xftp", "rcv1.xftp"), "--max-len", "100")
	mustOK(t, link, "link")
	if !strings.Contains(link.stderr, "redirect") {
		t.Fatalf("no redirect was made: %q", link.stderr)
	}
	out := filepath.Join(dir, "got.bin")
	mustOK(t, xftp(t, "download", strings.TrimSpace(link.stdout), "-o", out, "-q"), "download by redirect link")
	if got, _ := os.ReadFile(out); !bytes.Equal(got, want) {
		t.Fatal("file downloaded through a redirect differs")
	}
}

// syncBuffer is a bytes.Buffer that a running process may write to while
// the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
