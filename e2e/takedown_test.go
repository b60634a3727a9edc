package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/api/httpclient"
	"github.com/xftp/xftp/blocklist"
	"github.com/xftp/xftp/chunk"
)

// xftpIn runs xftp with XFTP_HOME set to home (one user's restriction store).
func xftpIn(t *testing.T, home string, args ...string) result {
	t.Helper()
	t.Setenv("XFTP_HOME", home)
	return xftp(t, args...)
}

func listenOf(addr string) string { return addr[strings.Index(addr, "@")+1:] }

func TestTakedownEndToEnd(t *testing.T) {
	rd := startAOFRedis(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	var pfx [6]byte
	rand.Read(pfx[:])
	cfg := filepath.Join(dir, "xftpd.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`storage:
  backend: fs
records:
  backend: redis
redis:
  address: %s
  prefix: "xftp-e2e-%s:"
admin:
  listen: 127.0.0.1:0
`, rd.addr(), hex.EncodeToString(pfx[:]))), 0o600)
	d := startDaemon(t, data, "--config", cfg)
	adminURL := func() string {
		b, err := os.ReadFile(filepath.Join(data, "admin.address"))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	tokenFile := filepath.Join(data, "admin.token")
	if fi, err := os.Stat(tokenFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin token file: %v %v", fi, err)
	}
	admin := func(args ...string) []string {
		return append(args, "--admin", adminURL(), "--token-file", tokenFile)
	}
	sender, victim, other, fresh := filepath.Join(dir, "home-sender"), filepath.Join(dir, "home-victim"), filepath.Join(dir, "home-other"), filepath.Join(dir, "home-fresh")

	// The admin API refuses missing and wrong tokens.
	for _, auth := range []string{"", "Bearer wrong", "Bearer " + strings.Repeat("A", 43)} {
		req, _ := http.NewRequest(http.MethodGet, adminURL()+"/admin/v1/blocks", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("admin API with %q: %d", auth, resp.StatusCode)
		}
	}
	wrongToken := filepath.Join(dir, "wrong.token")
	os.WriteFile(wrongToken, []byte("not-the-token-at-all\n"), 0o600)
	mustFail(t, xftp(t, "admin", "list", "--admin", adminURL(), "--token-file", wrongToken), "admin list with a wrong token", "AUTH")

	// Upload, then a complaint arrives with a recipient description.
	file := filepath.Join(dir, "evil.bin")
	writeRandom(t, file, 300<<10)
	mustOK(t, xftpIn(t, sender, "upload", file, "--server", d.addr, "--recipients", "2", "-q"), "upload")
	folder := file + ".xftp"
	rcv1, rcv2, snd := filepath.Join(folder, "rcv1.xftp"), filepath.Join(folder, "rcv2.xftp"), filepath.Join(folder, "snd.xftp.private")
	blk := xftp(t, admin("admin", "block", rcv1, "--reason", "content", "--notice", "reported by a user", "--ttl", "720h", "--restrict", "no_uploads,no_sender_files")...)
	mustOK(t, blk, "admin block")
	desc, err := chunk.Parse(mustRead(t, rcv1))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(blk.stdout, "blocked, case"); n != len(desc.Chunks) {
		t.Fatalf("admin block blocked %d chunks, want %d:\n%s%s", n, len(desc.Chunks), blk.stdout, blk.stderr)
	}
	list := xftp(t, admin("admin", "list")...)
	mustOK(t, list, "admin list")
	if strings.Count(list.stdout, "case ") != len(desc.Chunks) || !strings.Contains(list.stdout, "content") {
		t.Fatalf("admin list:\n%s", list.stdout)
	}
	audit := string(mustRead(t, filepath.Join(data, "admin-audit.log")))
	if strings.Count(audit, `"action":"block"`) != len(desc.Chunks) || strings.Contains(audit, "127.0.0.1") {
		t.Fatalf("audit log:\n%s", audit)
	}
	for _, c := range desc.Chunks {
		if strings.Contains(audit, api.B64(c.Replicas[0].ID).String()) {
			t.Fatal("the audit log names a chunk ID")
		}
	}

	// A recipient's download fails with the verified record, in one line
	// naming the operator, the reason, the notice and the restrictions.
	out := filepath.Join(dir, "got.bin")
	dl := xftpIn(t, victim, "download", rcv2, "-o", out, "-q")
	mustFail(t, dl, "download of a blocked file", "blocked by the operator of "+d.addr)
	for _, want := range []string{"content", "reported by a user", "uploads to this operator", "downloads of files relayed through this operator"} {
		if !strings.Contains(dl.stderr, want) {
			t.Fatalf("download error %q lacks %q", dl.stderr, want)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatal("a blocked download left a file")
	}
	rl := xftpIn(t, victim, "restrictions")
	mustOK(t, rl, "restrictions")
	fp := d.addr[len("xftp://"):strings.Index(d.addr, "@")]
	if !strings.Contains(rl.stdout, fp) || !strings.Contains(rl.stdout, "no_uploads") {
		t.Fatalf("restrictions:\n%s", rl.stdout)
	}

	// The sender's delete is refused with the record.
	mustFail(t, xftpIn(t, sender, "delete", snd), "delete of a blocked file", "blocked by the operator")

	// The same chunk (same digest) under new IDs is refused at create,
	// with a record naming the digest.
	c := httpclient.NewClient(mustAddress(t, d.addr), httpclient.ClientOptions{})
	defer c.Close()
	wantCreateBlocked := func(what string) {
		t.Helper()
		_, k, _ := ed25519.GenerateKey(rand.Reader)
		_, rk, _ := ed25519.GenerateKey(rand.Reader)
		_, err := c.Create(context.Background(), k, desc.Chunks[0].Size, desc.Chunks[0].Digest, []ed25519.PublicKey{rk.Public().(ed25519.PublicKey)})
		var be *blocklist.BlockedError
		if !errors.As(err, &be) || !bytes.Equal(be.Record.Record.ChunkID, desc.Chunks[0].Digest[:]) {
			t.Fatalf("%s: re-upload of a blocked chunk: %v", what, err)
		}
	}
	wantCreateBlocked("before restarts")

	// The recipient's client now refuses to upload to this operator,
	// without asking it; --ignore-restrictions overrides with a warning.
	file2 := filepath.Join(dir, "fine.bin")
	writeRandom(t, file2, 1000)
	mustFail(t, xftpIn(t, victim, "upload", file2, "--server", d.addr, "-q"), "upload under no_uploads", "refusing to upload to "+d.addr)
	up := xftpIn(t, victim, "upload", file2, "--server", d.addr, "-q", "--ignore-restrictions", "--out", filepath.Join(dir, "fine1"))
	mustOK(t, up, "upload ignoring restrictions")
	if !strings.Contains(up.stderr, "warning: ignoring a restriction") {
		t.Fatalf("no warning when ignoring restrictions: %q", up.stderr)
	}

	// Blocks survive an xftpd restart ...
	d.stop(t)
	d = startDaemon(t, data, "--config", cfg, "--listen", listenOf(d.addr))
	mustFail(t, xftpIn(t, fresh, "download", rcv2, "-o", out, "-q"), "download after xftpd restart", "blocked by the operator")
	// ... and a Redis restart (AOF).
	rd.restart()
	var last result
	for i := 0; i < 50; i++ { // xftpd reconnects
		if last = xftpIn(t, other, "download", rcv2, "-o", out, "-q"); strings.Contains(last.stderr, "blocked by the operator") {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	mustFail(t, last, "download after Redis restart", "blocked by the operator")
	c2 := httpclient.NewClient(mustAddress(t, d.addr), httpclient.ClientOptions{})
	defer c2.Close()
	c = c2
	wantCreateBlocked("after restarts")

	// Unblock restores service: the digest can be created again, and the
	// recipient, after clearing its restrictions, uploads and downloads.
	mustOK(t, xftp(t, admin("admin", "unblock", rcv1)...), "admin unblock")
	if l := xftp(t, admin("admin", "list")...); strings.Contains(l.stdout, "case ") {
		t.Fatalf("blocks left after unblock:\n%s", l.stdout)
	}
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	_, rk, _ := ed25519.GenerateKey(rand.Reader)
	c3 := httpclient.NewClient(mustAddress(t, d.addr), httpclient.ClientOptions{})
	defer c3.Close()
	if _, err := c3.Create(context.Background(), k, desc.Chunks[0].Size, desc.Chunks[0].Digest, []ed25519.PublicKey{rk.Public().(ed25519.PublicKey)}); err != nil {
		t.Fatalf("create of the unblocked digest: %v", err)
	}
	// The blocked chunks themselves stay deleted.
	mustFail(t, xftpIn(t, filepath.Join(dir, "home-new"), "download", rcv2, "-o", out, "-q"), "download of an unblocked but deleted file", "AUTH")
	mustOK(t, xftpIn(t, victim, "restrictions", "clear", fp), "restrictions clear")
	up2 := xftpIn(t, victim, "upload", file2, "--server", d.addr, "-q", "--out", filepath.Join(dir, "fine2"))
	mustOK(t, up2, "upload after unblock and clear")
	mustOK(t, xftpIn(t, victim, "download", filepath.Join(dir, "fine2", "rcv1.xftp"), "-o", filepath.Join(dir, "fine2.out"), "-q"), "download after unblock")
	if !bytes.Equal(mustRead(t, filepath.Join(dir, "fine2.out")), mustRead(t, file2)) {
		t.Fatal("round trip after unblock differs")
	}
	if a := string(mustRead(t, filepath.Join(data, "admin-audit.log"))); strings.Count(a, `"action":"unblock"`) != len(desc.Chunks) {
		t.Fatalf("audit log after unblock:\n%s", a)
	}
	d.stop(t)
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustAddress(t *testing.T, s string) api.Address {
	t.Helper()
	a, err := api.ParseAddress(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
