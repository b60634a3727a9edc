package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// SimpleX interop: files go both ways between xftp and SimpleX's own
// TypeScript client (xftp-web, built by scripts/test into
// XFTP_TEST_XFTPWEB) through real xftpd processes speaking XFTP.

// xftpAddress waits for DATA/xftp-address, the relay's XFTP address.
func xftpAddress(t *testing.T, data string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(filepath.Join(data, "xftp-address")); err == nil && len(bytes.TrimSpace(b)) > 0 {
			return strings.TrimSpace(string(b))
		}
		time.Sleep(50 * time.Millisecond) // polling for a file another process writes
	}
	t.Fatalf("no %s/xftp-address", data)
	return ""
}

// xftpWeb runs testdata/xftpweb.mjs with the built xftp-web.
func xftpWeb(t *testing.T, xw string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	script, err := filepath.Abs("testdata/xftpweb.mjs")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, "node", append([]string{script, xw}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

func sameBytes(t *testing.T, path string, want []byte, what string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes differ from the %d sent", what, len(got), len(want))
	}
}

func TestSimplexInterop(t *testing.T) {
	xw := needEnv(t, "XFTP_TEST_XFTPWEB")
	dir := t.TempDir()
	var addrs []string
	for i := range 3 {
		data := filepath.Join(dir, fmt.Sprintf("data%d", i))
		startDaemon(t, data)
		addrs = append(addrs, xftpAddress(t, data))
	}
	// "f.bin" costs 31 bytes of overhead (length 8, header 7, tag 16): the
	// sizes below put the encrypted payload one byte either side of each
	// boundary of the chunk plan.
	const overhead = 31
	sizes := []int{0, 1, 30 << 20}
	for _, p := range []int{64 << 10, 192 << 10, 256 << 10, 768 << 10, 1 << 20, 3 << 20, 4 << 20} {
		sizes = append(sizes, p-overhead-1, p-overhead+1)
	}
	for _, size := range sizes {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			wd := t.TempDir()
			file := filepath.Join(wd, "f.bin")
			data := writeRandom(t, file, size)
			servers := addrs[:1]
			if size == 30<<20 || size == 3<<20-overhead+1 {
				servers = addrs // spread over three servers
			}

			// xftp -> xftp-web, by the web link (a redirect when the file
			// has more than one chunk).
			args := []string{"upload", file, "--simplex", "--json", "-q"}
			for _, s := range servers {
				args = append(args, "--server", s)
			}
			up := xftp(t, args...)
			mustOK(t, up, "xftp upload --simplex")
			var res struct {
				Links []string `json:"web_links"`
			}
			if err := json.Unmarshal([]byte(up.stdout), &res); err != nil || len(res.Links) != 1 {
				t.Fatalf("no web link in %s (%v)", up.stdout, err)
			}
			link := res.Links[0]
			got := filepath.Join(wd, "web.bin")
			r := xftpWeb(t, xw, "download", link, got)
			if r.code != 0 {
				t.Fatalf("xftp-web download: exit %d\n%s", r.code, tail(r.stderr))
			}
			if strings.TrimSpace(r.stdout) != "f.bin" {
				t.Fatalf("xftp-web read the name %q", r.stdout)
			}
			sameBytes(t, got, data, "xftp-web's download of xftp's upload")
			mustOK(t, xftp(t, "delete", filepath.Join(wd, "f.bin.xftp", "snd.xftp.private")), "xftp delete")

			// xftp-web -> xftp, by the description and by the link.
			out := filepath.Join(wd, "web")
			os.Mkdir(out, 0o700)
			r = xftpWeb(t, xw, "upload", servers[0], file, out)
			if r.code != 0 {
				t.Fatalf("xftp-web upload: exit %d\n%s", r.code, tail(r.stderr))
			}
			got1 := filepath.Join(wd, "x1.bin")
			mustOK(t, xftp(t, "download", filepath.Join(out, "rcv.yaml"), "-o", got1, "--keep", "-q"), "xftp download of xftp-web's description")
			sameBytes(t, got1, data, "xftp's download of xftp-web's upload")
			weblink, _ := os.ReadFile(filepath.Join(out, "link.txt"))
			got2 := filepath.Join(wd, "x2.bin")
			mustOK(t, xftp(t, "download", strings.TrimSpace(string(weblink)), "-o", got2, "-q"), "xftp download of xftp-web's link")
			sameBytes(t, got2, data, "xftp's download of xftp-web's link")
			// Acknowledged: the description no longer downloads.
			mustFail(t, xftp(t, "download", filepath.Join(out, "rcv.yaml"), "-o", filepath.Join(wd, "x3.bin"), "-q"), "download after ack", "AUTH")
		})
	}
}

// TestSimplexCLIFailures: a truncated description, a sender's description
// and a deleted file fail with one clear line and leave nothing at -o.
func TestSimplexCLIFailures(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	startDaemon(t, data)
	addr := xftpAddress(t, data)
	file := filepath.Join(dir, "f.bin")
	want := writeRandom(t, file, 200<<10)
	mustOK(t, xftp(t, "upload", file, "--simplex", "--server", addr, "--recipients", "2", "-q"), "upload")
	folder := file + ".xftp"
	rcv, _ := os.ReadFile(filepath.Join(folder, "rcv1.xftp"))
	info := xftp(t, "info", filepath.Join(folder, "rcv1.xftp"))
	mustOK(t, info, "info")
	if !strings.Contains(info.stdout, "SimpleX") || strings.Contains(info.stdout, strings.Split(addr, "@")[0][7:20]) {
		t.Fatalf("info shows a key hash or no format:\n%s", info.stdout)
	}
	trunc := filepath.Join(dir, "trunc.xftp")
	os.WriteFile(trunc, rcv[:len(rcv)*2/3], 0o600)
	out := filepath.Join(dir, "out.bin")
	for _, c := range []struct{ name, desc, want string }{
		{"truncated description", trunc, "invalid SimpleX file description"},
		{"sender's description", filepath.Join(folder, "snd.xftp.private"), "sender's description"},
		{"bad link", "simplex:/file#/?desc=party%3A", "invalid SimpleX file description"},
	} {
		mustFail(t, xftp(t, "download", c.desc, "-o", out, "-q"), c.name, c.want)
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("%s: %s exists", c.name, out)
		}
	}
	mustOK(t, xftp(t, "download", filepath.Join(folder, "rcv1.xftp"), "-o", out, "-q"), "download")
	sameBytes(t, out, want, "download")
	mustOK(t, xftp(t, "delete", filepath.Join(folder, "snd.xftp.private")), "delete")
	out2 := filepath.Join(dir, "out2.bin")
	mustFail(t, xftp(t, "download", filepath.Join(folder, "rcv2.xftp"), "-o", out2, "-q"), "download after delete", "AUTH")
	if _, err := os.Stat(out2); err == nil {
		t.Fatal("a failed download left its output")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 5 { // data, f.bin, f.bin.xftp, trunc.xftp, out.bin
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("left behind: %v", names)
	}
}

func tail(s string) string {
	if len(s) > 3000 {
		return "…" + s[len(s)-3000:]
	}
	return s
}

// TestSimplexAdminBlock: an operator blocks a SimpleX file from the link
// in a complaint; the redirect is followed, so the file itself is blocked.
func TestSimplexAdminBlock(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	startDaemon(t, data)
	addr := xftpAddress(t, data)
	file := filepath.Join(dir, "f.bin")
	writeRandom(t, file, 4<<20) // chunks of 4 MiB and 1 MiB
	up := xftp(t, "upload", file, "--simplex", "--server", addr, "--json", "-q")
	mustOK(t, up, "upload")
	var res struct {
		Links []string `json:"web_links"`
	}
	if err := json.Unmarshal([]byte(up.stdout), &res); err != nil || len(res.Links) != 1 {
		t.Fatalf("no link in %s", up.stdout)
	}
	info := xftp(t, "info", res.Links[0])
	mustOK(t, info, "info of the link")
	if !strings.Contains(info.stdout, "redirect:   yes") {
		t.Fatalf("the link is not a redirect:\n%s", info.stdout)
	}
	b := xftp(t, "admin", "--data", data, "block", res.Links[0], "--reason", "spam")
	mustOK(t, b, "admin block")
	if n := strings.Count(b.stdout, "blocked, case"); n != 3 { // the redirect's chunk and the file's two
		t.Fatalf("blocked %d replicas:\n%s", n, b.stdout)
	}
	mustFail(t, xftp(t, "download", filepath.Join(file+".xftp", "rcv1.xftp"), "-o", filepath.Join(dir, "out"), "-q"), "download of a blocked file", "BLOCKED reason=spam")
}
