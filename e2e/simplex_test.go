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

	"github.com/xftp/xftp/internal/testenv"
)

// SimpleX interop: files go both ways between xftp and SimpleX's own
// TypeScript client (xftp-web, built by scripts/test into
// XFTP_TEST_XFTPWEB) through real xftpd processes speaking XFTP.

// xftpAddress waits for DATA/xftp-address, the relay's XFTP address.
func xftpAddress(t *testing.T, data string) string {
	t.Helper()
	var addr string
	testenv.Eventually(t, 20*time.Second, func() bool { // polling for a file another process writes
		b, err := os.ReadFile(filepath.Join(data, "xftp-address"))
		addr = strings.TrimSpace(string(b))
		return err == nil && addr != ""
	}, "no %s/xftp-address", data)
	return addr
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
	xw := testenv.XFTPWeb(t)
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
	type tcase struct {
		size    int
		dir     string
		file    string
		data    []byte
		servers []string
		link    string // xftp's web link
	}
	var cases []*tcase
	for _, size := range sizes {
		c := &tcase{size: size, dir: filepath.Join(dir, fmt.Sprint(size)), servers: addrs[:1]}
		if size == 30<<20 || size == 3<<20-overhead+1 {
			c.servers = addrs // spread over three servers
		}
		os.MkdirAll(filepath.Join(c.dir, "web"), 0o700)
		c.file = filepath.Join(c.dir, "f.bin")
		c.data = writeRandom(t, c.file, size)
		cases = append(cases, c)
	}

	// xftp -> xftp-web, by the web link (a redirect when the file has more
	// than one chunk). One Node process downloads them all.
	var dl []string
	for _, c := range cases {
		args := []string{"upload", c.file, "--simplex", "--json", "-q"}
		for _, s := range c.servers {
			args = append(args, "--server", s)
		}
		up := xftp(t, args...)
		mustOK(t, up, fmt.Sprintf("xftp upload --simplex of %d bytes", c.size))
		var res struct {
			Links []string `json:"web_links"`
		}
		if err := json.Unmarshal([]byte(up.stdout), &res); err != nil || len(res.Links) != 1 {
			t.Fatalf("no web link in %s (%v)", up.stdout, err)
		}
		c.link = res.Links[0]
		dl = append(dl, c.link, filepath.Join(c.dir, "web.bin"))
	}
	r := xftpWeb(t, xw, append([]string{"download-many"}, dl...)...)
	if r.code != 0 {
		t.Fatalf("xftp-web download: exit %d\n%s", r.code, tail(r.stderr))
	}
	if names := strings.Fields(r.stdout); len(names) != len(cases) || names[0] != "f.bin" {
		t.Fatalf("xftp-web read the names %q", r.stdout)
	}
	for _, c := range cases {
		sameBytes(t, filepath.Join(c.dir, "web.bin"), c.data, fmt.Sprintf("xftp-web's download of xftp's %d bytes", c.size))
		mustOK(t, xftp(t, "delete", filepath.Join(c.file+".xftp", "snd.xftp.private")), "xftp delete")
	}

	// xftp-web -> xftp, by the description and by the link.
	ul := []string{"upload-many", addrs[0]}
	for _, c := range cases {
		ul = append(ul, c.file, filepath.Join(c.dir, "web"))
	}
	if r := xftpWeb(t, xw, ul...); r.code != 0 {
		t.Fatalf("xftp-web upload: exit %d\n%s", r.code, tail(r.stderr))
	}
	for _, c := range cases {
		what := fmt.Sprintf("xftp's download of xftp-web's %d bytes", c.size)
		out := filepath.Join(c.dir, "web")
		got1 := filepath.Join(c.dir, "x1.bin")
		mustOK(t, xftp(t, "download", filepath.Join(out, "rcv.yaml"), "-o", got1, "--keep", "-q"), what+" (description)")
		sameBytes(t, got1, c.data, what+" (description)")
		weblink, _ := os.ReadFile(filepath.Join(out, "link.txt"))
		got2 := filepath.Join(c.dir, "x2.bin")
		mustOK(t, xftp(t, "download", strings.TrimSpace(string(weblink)), "-o", got2, "-q"), what+" (link)")
		sameBytes(t, got2, c.data, what+" (link)")
		// Acknowledged: the description no longer downloads.
		mustFail(t, xftp(t, "download", filepath.Join(out, "rcv.yaml"), "-o", filepath.Join(c.dir, "x3.bin"), "-q"), what+" after ack", "AUTH")
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
