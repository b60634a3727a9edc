package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	xftpwire "github.com/xftp/xftp/api/xftp"
	"github.com/xftp/xftp/api/xftpclient"
	"github.com/xftp/xftp/internal/testenv"
)

// SimpleX's own XFTP client (xftp-web, built by scripts/test into
// XFTP_TEST_XFTPWEB) uploads and downloads through real xftpd processes,
// on the embedded default and on MinIO + Redis.

func TestXFTPWebEmbedded(t *testing.T) { runXFTPWeb(t) }

func TestXFTPWebS3Redis(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XFTPD_S3_SECRET_KEY", testenv.MinIO(t).SecretKey)
	cfg := scaleOutConfig(t, dir, randomName("xftpweb-"), testenv.Redis(t), randomName("xw")+":")
	runXFTPWeb(t, "--config", cfg)
}

// vitestPassed matches vitest's summary when every test passed.
var vitestPassed = regexp.MustCompile(`(?m)^\s*Tests\s+\d+ passed \(\d+\)\s*$`)

// node runs a Node script of xftp-web's folder (or ours) with a deadline.
func node(t *testing.T, timeout time.Duration, script string, args ...string) string {
	t.Helper()
	dir := testenv.XFTPWeb(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{script}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "XFTP_TEST_XFTPWEB="+dir)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s %s: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(script), strings.Join(args, " "), err, tail(out.String()), tail(errb.String()))
	}
	return strings.TrimSpace(out.String())
}

func peerScript(t *testing.T) string {
	p, err := filepath.Abs("testdata/xftpweb/peer.mjs")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func runXFTPWeb(t *testing.T, daemonArgs ...string) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	d := startDaemon(t, data, daemonArgs...)
	addr := xftpAddress(t, data)
	peer := peerScript(t)

	t.Run("roundtrip", func(t *testing.T) {
		for _, n := range []int{1, 50_000, 5 << 20, 20 << 20} {
			f := filepath.Join(dir, fmt.Sprintf("f%d", n))
			writeRandom(t, f, n)
			if out := node(t, 3*time.Minute, "roundtrip.mjs", addr, f); !strings.Contains(out, "roundtrip: OK") {
				t.Fatalf("%d bytes: %s", n, tail(out))
			}
		}
	})
	t.Run("vitest", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "npx", "vitest", "run", "--config", "vitest.server.config.ts")
		cmd.Dir = testenv.XFTPWeb(t)
		cmd.Env = append(os.Environ(), "XFTP_SERVER="+addr, "CI=true", "NO_COLOR=1", "FORCE_COLOR=0")
		out, err := cmd.CombinedOutput()
		if err != nil || !vitestPassed.Match(out) {
			t.Fatalf("vitest against xftpd: %v\n%s", err, tail(string(out)))
		}
	})
	t.Run("errors", func(t *testing.T) {
		node(t, time.Minute, peer, "errors", addr)
	})
	t.Run("blocked", func(t *testing.T) {
		var chunk map[string]string
		if err := json.Unmarshal([]byte(node(t, time.Minute, peer, "chunk", addr)), &chunk); err != nil {
			t.Fatal(err)
		}
		rid, _ := hex.DecodeString(chunk["rid"])
		adminBlock(t, data, rid, "spam", 3600)
		node(t, time.Minute, peer, "fget", addr, chunk["rid"], chunk["rkey"], `BLOCKED reason=spam,notice={"ttl":3600}`)
		// The same digest cannot come back under new IDs.
		node(t, time.Minute, peer, "fnew", addr, "-", `ERR BLOCKED reason=spam,notice={"ttl":3600}`, chunk["digest"])
		adminUnblock(t, data, rid)
		node(t, time.Minute, peer, "fnew", addr, "-", "SIDS", chunk["digest"])
	})
	t.Run("block by link", func(t *testing.T) {
		// Complaints arrive as links: the admin API takes one and blocks
		// every chunk of the file on this relay.
		f := filepath.Join(dir, "complaint.bin")
		writeRandom(t, f, 700_000)
		var up struct{ URI, Snd string }
		if err := json.Unmarshal([]byte(node(t, time.Minute, peer, "upload", addr, f)), &up); err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(map[string]any{"ref": "https://files.example/#" + up.URI, "reason": "content", "ttl_seconds": 60})
		var res struct {
			Cases                       []json.RawMessage
			Already, Unknown, Elsewhere int
		}
		if err := json.Unmarshal([]byte(adminCall(t, data, http.MethodPost, "/admin/v1/xftp/blocks", string(body))), &res); err != nil {
			t.Fatal(err)
		}
		if len(res.Cases) == 0 || res.Already+res.Unknown+res.Elsewhere != 0 {
			t.Fatalf("block by link: %+v", res)
		}
		node(t, time.Minute, peer, "download-fails", up.URI, "BLOCKED")
	})
	t.Run("restart", func(t *testing.T) {
		f := filepath.Join(dir, "restart.bin")
		want := writeRandom(t, f, 300_000)
		var up struct{ URI, Snd string }
		if err := json.Unmarshal([]byte(node(t, time.Minute, peer, "upload", addr, f)), &up); err != nil {
			t.Fatal(err)
		}
		ca := mustRead(t, filepath.Join(data, "xftp-ca.crt"))
		d.stop(t)
		d = startDaemon(t, data, append(daemonArgs, "--listen", listenOf(addr))...)
		if got := xftpAddress(t, data); got != addr {
			t.Fatalf("the XFTP address changed over a restart: %s -> %s", addr, got)
		}
		if !bytes.Equal(ca, mustRead(t, filepath.Join(data, "xftp-ca.crt"))) {
			t.Fatal("the XFTP CA changed over a restart")
		}
		out := filepath.Join(dir, "restart.out")
		node(t, time.Minute, peer, "download", up.URI, out)
		if got := mustRead(t, out); !bytes.Equal(got, want) {
			t.Fatal("the file downloaded after the restart differs")
		}
		node(t, time.Minute, peer, "delete", up.Snd)
	})
}

func TestXFTPWebQuotaAndPassword(t *testing.T) {
	dir := t.TempDir()
	peer := peerScript(t)
	startDaemon(t, filepath.Join(dir, "q"), "--quota", "1MiB")
	node(t, time.Minute, peer, "quota", xftpAddress(t, filepath.Join(dir, "q")), "262144", "4")

	pw := filepath.Join(dir, "password")
	os.WriteFile(pw, []byte("s3cret\n"), 0o600)
	p := filepath.Join(dir, "p")
	startDaemon(t, p, "--password-file", pw)
	addr := xftpAddress(t, p)
	if !strings.Contains(addr, ":s3cret@") {
		t.Fatalf("the XFTP address of a relay with an upload password lacks it: %s", addr)
	}
	// xftp-web's address parser refuses a password: take it out.
	bare := strings.Replace(addr, ":s3cret@", "@", 1)
	node(t, time.Minute, peer, "fnew", bare, "-", "ERR AUTH")
	node(t, time.Minute, peer, "fnew", bare, "wrong", "ERR AUTH")
	node(t, time.Minute, peer, "fnew", bare, "s3cret", "SIDS")
	open := filepath.Join(dir, "o")
	startDaemon(t, open)
	node(t, time.Minute, peer, "fnew", xftpAddress(t, open), "any", "SIDS")
}

// adminBlock blocks a chunk by one of its IDs through the admin API.
func adminBlock(t *testing.T, data string, id []byte, reason string, ttl int64) {
	t.Helper()
	body := fmt.Sprintf(`{"id":%q,"reason":%q,"ttl_seconds":%d}`, base64.RawURLEncoding.EncodeToString(id), reason, ttl)
	adminCall(t, data, http.MethodPost, "/admin/v1/blocks", body)
}

func adminUnblock(t *testing.T, data string, id []byte) {
	t.Helper()
	adminCall(t, data, http.MethodDelete, "/admin/v1/blocks/"+base64.RawURLEncoding.EncodeToString(id), "")
}

func adminCall(t *testing.T, data, method, path, body string) string {
	t.Helper()
	url := strings.TrimSpace(string(mustRead(t, filepath.Join(data, "admin.address"))))
	token := strings.TrimSpace(string(mustRead(t, filepath.Join(data, "admin.token"))))
	req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		t.Fatalf("%s %s: HTTP %d %s", method, path, resp.StatusCode, b.String())
	}
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return b.String()
}

// One xftpd serves our CLI and SimpleX's client at the same time.
func TestXFTPWebMixedWithCLI(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	d := startDaemon(t, data)
	addr := xftpAddress(t, data)
	webFile := filepath.Join(dir, "web.bin")
	writeRandom(t, webFile, 6<<20)
	webDone := make(chan string, 1)
	go func() {
		// node reports through t.Fatalf, which must not run off the test
		// goroutine: run the command here and hand back its output.
		cmd := exec.Command("node", "roundtrip.mjs", addr, webFile)
		cmd.Dir = testenv.XFTPWeb(t)
		out, err := cmd.CombinedOutput()
		if err != nil {
			webDone <- fmt.Sprintf("%v\n%s", err, tail(string(out)))
			return
		}
		webDone <- string(out)
	}()
	file := filepath.Join(dir, "cli.bin")
	want := writeRandom(t, file, 6<<20)
	mustOK(t, xftp(t, "upload", file, "--server", d.addr, "-q"), "upload")
	got := filepath.Join(dir, "cli.out")
	mustOK(t, xftp(t, "download", filepath.Join(file+".xftp", "rcv1.xftp"), "-o", got, "-q"), "download")
	if b := mustRead(t, got); !bytes.Equal(b, want) {
		t.Fatal("the CLI's file differs")
	}
	select {
	case out := <-webDone:
		if !strings.Contains(out, "roundtrip: OK") {
			t.Fatalf("xftp-web next to the CLI: %s", out)
		}
	case <-time.After(3 * time.Minute):
		t.Fatal("xftp-web's round trip did not finish")
	}
}

// A large group's file: 10,000 recipient IDs added 200 at a time, as
// SimpleX's apps do, on the Redis record store; the last recipient
// downloads.
func TestXFTPManyRecipientsRedis(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "xftpd.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("records:\n  backend: redis\nredis:\n  address: %s\n  prefix: %q\n",
		testenv.Redis(t), randomName("xr")+":")), 0o600)
	data := filepath.Join(dir, "data")
	startDaemon(t, data, "--config", cfg)
	addr, err := xftpwire.ParseAddress(xftpAddress(t, data))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := xftpclient.Dial(ctx, addr, xftpclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, snd, _ := ed25519.GenerateKey(nil)
	_, rcv, _ := ed25519.GenerateKey(nil)
	body := make([]byte, 64<<10)
	digest := sha256.Sum256(body)
	keys := make([]ed25519.PublicKey, 200)
	for i := range keys {
		keys[i] = rcv.Public().(ed25519.PublicKey)
	}
	sid, rids, err := c.Create(ctx, snd, uint32(len(body)), digest[:], keys, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Upload(ctx, snd, sid, bytes.NewReader(body), int64(len(body))); err != nil {
		t.Fatal(err)
	}
	last := rids[len(rids)-1]
	for n := 200; n < 10000; n += 200 {
		if rids, err = c.AddRecipients(ctx, snd, sid, keys); err != nil {
			t.Fatalf("FADD at %d recipients: %v", n, err)
		}
		last = rids[len(rids)-1]
	}
	var got bytes.Buffer
	if err := c.Download(ctx, rcv, last, int64(len(body)), &got); err != nil || !bytes.Equal(got.Bytes(), body) {
		t.Fatalf("the 10,000th recipient's download: %v", err)
	}
}

// Replicas on one bucket and Redis: an XFTP chunk sent through replica A
// downloads through replica B. B was given the identity key only: it makes
// the same XFTP CA from it, so both have one address.
func TestXFTPReplicas(t *testing.T) {
	a, b := replicaPair(t, testenv.Redis(t))
	addrA, addrB := xftpAddress(t, a.data), xftpAddress(t, b.data)
	if kh := func(s string) string { return s[:strings.Index(s, "@")] }; kh(addrA) != kh(addrB) {
		t.Fatalf("replicas with one identity have different XFTP key hashes: %s %s", addrA, addrB)
	}
	peer := peerScript(t)
	var ch map[string]string
	if err := json.Unmarshal([]byte(node(t, time.Minute, peer, "chunk", addrA)), &ch); err != nil {
		t.Fatal(err)
	}
	node(t, time.Minute, peer, "fget", addrB, ch["rid"], ch["rkey"], "OK")
}

// xftp.listen adds a listener (port 443 in production) that serves XFTP
// as the main one does; the XFTP address names it.
func TestXFTPExtraListener(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "xftpd.yaml")
	os.WriteFile(cfg, []byte("xftp:\n  listen: 127.0.0.1:0\n"), 0o600)
	d := startDaemon(t, filepath.Join(dir, "data"), "--config", cfg)
	addr := xftpAddress(t, d.data)
	if listenOf(addr) == listenOf(d.addr) {
		t.Fatalf("the XFTP address %s names the main listener %s", addr, d.addr)
	}
	f := filepath.Join(dir, "f")
	writeRandom(t, f, 100_000)
	if out := node(t, 2*time.Minute, "roundtrip.mjs", addr, f); !strings.Contains(out, "roundtrip: OK") {
		t.Fatal(tail(out))
	}
}
