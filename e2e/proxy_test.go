package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// startProxy runs an xftpd with the proxy role on, connecting to next hops
// from its own loopback address.
func startProxy(t *testing.T, src string, extra string) *daemon {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "xftpd.yaml")
	body := fmt.Sprintf("proxy:\n  enabled: true\n  internal_destinations: true # everything here is on loopback\n  source_address: %s\n%s", src, extra)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return startDaemon(t, filepath.Join(dir, "data"), "--config", cfg)
}

// TestProxyEndToEnd: real binaries; a download through two proxies, a
// refusal naming the proxy, and a block whose record arrives intact.
func TestProxyEndToEnd(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "dest")
	d := startDaemon(t, data)
	p1 := startProxy(t, "127.0.0.3", "")
	p2 := startProxy(t, "127.0.0.4", "")
	fp := func(addr string) string { return addr[len("xftp://"):strings.Index(addr, "@")] }
	picky := startProxy(t, "127.0.0.5", "  allow: ["+fp(p1.addr)+"]\n")
	home := filepath.Join(dir, "home")

	file := filepath.Join(dir, "f.bin")
	want := writeRandom(t, file, 5<<20+17)
	mustOK(t, xftpIn(t, home, "upload", file, "--server", d.addr, "--recipients", "2", "-q"), "upload")
	rcv1, rcv2 := filepath.Join(file+".xftp", "rcv1.xftp"), filepath.Join(file+".xftp", "rcv2.xftp")

	out := filepath.Join(dir, "out.bin")
	mustOK(t, xftpIn(t, home, "download", rcv1, "-o", out, "-q", "--keep", "--proxy", p1.addr, "--proxy", p2.addr), "download through two proxies")
	if got, _ := os.ReadFile(out); !bytes.Equal(got, want) {
		t.Fatal("the file downloaded through two proxies differs")
	}
	// The same through the environment.
	t.Setenv("XFTP_PROXIES", p2.addr+","+p1.addr)
	os.Remove(out)
	mustOK(t, xftpIn(t, home, "download", rcv1, "-o", out, "-q", "--keep"), "download with XFTP_PROXIES")
	t.Setenv("XFTP_PROXIES", "")

	// Refusals name the proxy; nothing falls back to a direct download.
	os.Remove(out)
	mustFail(t, xftpIn(t, home, "download", rcv1, "-o", out, "-q", "--proxy", picky.addr), "download through a proxy that refuses", "PROXY_REFUSED")
	plain := startDaemon(t, filepath.Join(dir, "plain"))
	r := xftpIn(t, home, "download", rcv1, "-o", out, "-q", "--proxy", p1.addr, "--proxy", plain.addr)
	mustFail(t, r, "download through a server that is not a proxy", "is not a proxy")
	if !strings.Contains(r.stderr, listenOf(plain.addr)) || !strings.Contains(r.stderr, "does not fall back") {
		t.Fatalf("refusal %q does not name the server or say it did not fall back", r.stderr)
	}

	// The operator blocks the file; the signed record comes back through
	// two proxies and verifies against the destination's fingerprint.
	admin, err := os.ReadFile(filepath.Join(data, "admin.address"))
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, xftp(t, "admin", "block", rcv2, "--reason", "content", "--notice", "via proxies",
		"--admin", strings.TrimSpace(string(admin)), "--token-file", filepath.Join(data, "admin.token")), "admin block")
	dl := xftpIn(t, filepath.Join(dir, "victim"), "download", rcv1, "-o", out, "-q", "--proxy", p1.addr, "--proxy", p2.addr)
	mustFail(t, dl, "download of a blocked file through two proxies", "blocked by the operator of "+d.addr)
	if !strings.Contains(dl.stderr, "via proxies") {
		t.Fatalf("block message %q lacks the notice", dl.stderr)
	}
	for _, p := range []*daemon{p1, p2} {
		for _, leak := range []string{listenOf(d.addr), "127.0.0.3", "127.0.0.4"} {
			if strings.Contains(p.stderr.String(), leak) {
				t.Fatalf("a proxy logged an address:\n%s", p.stderr)
			}
		}
	}
}
