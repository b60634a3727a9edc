package browsertest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/xftp/xftp/internal/testenv"
)

var bin string // the built xftpd and xftp

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "xftp-browsertest-bin")
	if err != nil {
		panic(err)
	}
	build := exec.Command("go", "build", "-o", dir+"/", "./cmd/xftpd", "./cmd/xftp")
	build.Dir = "../.."
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building xftpd and xftp:", err)
		os.Exit(1)
	}
	bin = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// webPKI is a test CA and a certificate it issued for host, written as PEM
// files for xftpd's web.cert_file and web.key_file.
type webPKI struct {
	certFile, keyFile string
	spki              string // base64 SHA-256 of the leaf's SubjectPublicKeyInfo
}

func newWebPKI(t *testing.T, host string) webPKI {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "xftp test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	var chain bytes.Buffer
	pem.Encode(&chain, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	pem.Encode(&chain, &pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	kb, _ := x509.MarshalPKCS8PrivateKey(key)
	p := webPKI{certFile: filepath.Join(dir, "web.crt"), keyFile: filepath.Join(dir, "web.key")}
	os.WriteFile(p.certFile, chain.Bytes(), 0o600)
	os.WriteFile(p.keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600)
	sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	p.spki = base64.StdEncoding.EncodeToString(sum[:])
	return p
}

type relay struct {
	addr, data string
	cmd        *exec.Cmd
	stderr     *bytes.Buffer
}

// port is the relay's port.
func (r *relay) port() string {
	_, p, _ := net.SplitHostPort(r.addr[strings.Index(r.addr, "@")+1:])
	return p
}

// startRelay runs xftpd on loopback, named host in its address, with the
// web certificate.
func startRelay(t *testing.T, host string, pki webPKI) *relay {
	t.Helper()
	r := &relay{data: t.TempDir(), stderr: &bytes.Buffer{}}
	r.cmd = exec.Command(filepath.Join(bin, "xftpd"), "--data", r.data, "--listen", "127.0.0.1:0", "--host", host)
	r.cmd.Env = append(os.Environ(), "XFTPD_ADMIN_LISTEN=127.0.0.1:0", "XFTPD_WEB_HOST="+host,
		"XFTPD_WEB_CERT_FILE="+pki.certFile, "XFTPD_WEB_KEY_FILE="+pki.keyFile)
	r.cmd.Stderr = r.stderr
	out, _ := r.cmd.StdoutPipe()
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.cmd.Process.Kill(); r.cmd.Wait() })
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(out)
		s.Scan()
		line <- s.Text()
	}()
	select {
	case r.addr = <-line:
	case <-time.After(20 * time.Second):
		t.Fatalf("xftpd printed no address; stderr:\n%s", r.stderr)
	}
	if !strings.HasPrefix(r.addr, "xftp://") {
		t.Fatalf("xftpd printed %q; stderr:\n%s", r.addr, r.stderr)
	}
	return r
}

func xftp(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, "xftp"), args...)
	cmd.Env = append(os.Environ(), "XFTP_HOME="+t.TempDir())
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("xftp %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// upload sends a random file of size bytes to the chunk relay and returns
// its bytes, the recipient description and the browser link for the page
// relay.
func upload(t *testing.T, name string, size int, chunks, pageRelay *relay) ([]byte, string, string) {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	path := filepath.Join(t.TempDir(), name)
	os.WriteFile(path, data, 0o600)
	out := xftp(t, "upload", path, "--server", chunks.addr, "-q", "--web", "--web-host", "localhost:"+pageRelay.port())
	var link string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "https://") {
			link = l
		}
	}
	if !strings.HasPrefix(link, "https://localhost:"+pageRelay.port()+"/d/#xftp:file:1:") {
		t.Fatalf("upload --web printed no browser link:\n%s", out)
	}
	// xftp link --web gives the same link.
	rcv := filepath.Join(path+".xftp", "rcv1.xftp")
	if again := strings.TrimSpace(xftp(t, "link", rcv, "--web", "--web-host", "localhost:"+pageRelay.port())); again != link {
		t.Fatalf("xftp link --web printed %q, upload --web %q", again, link)
	}
	return data, rcv, link
}

// browserCtx starts a headless Chromium that trusts the web certificate
// (by its key, see docs/WEB.md) and returns a tab.
func browserCtx(t *testing.T, exe string, pki webPKI) context.Context {
	t.Helper()
	// A fresh profile per browser, removed once the browser has exited
	// (t.TempDir's cleanup can race Chromium's last writes).
	profile, err := os.MkdirTemp("", "xftp-chromium-profile")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(profile),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("ignore-certificate-errors-spki-list", pki.spki),
		chromedp.WindowSize(900, 700),
	}
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel2 := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancel2()
		cancel() // waits for the browser to exit
		for i := 0; i < 50 && os.RemoveAll(profile) != nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	})
	chromedp.ListenTarget(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, string(a.Value))
			}
			t.Logf("console.%s: %s", ev.Type, strings.Join(parts, " "))
		case *runtime.EventExceptionThrown:
			t.Logf("exception: %s", ev.ExceptionDetails.Error())
		}
	})
	if err := chromedp.Run(ctx); err != nil { // start the browser
		t.Fatal(err)
	}
	return ctx
}

// watchCSP records the page's Content-Security-Policy violations in
// window.__csp, and optionally replaces the File System Access API.
func initScript(extra string) chromedp.Action {
	src := `window.__csp = []; document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));` + extra
	return chromedp.ActionFunc(func(ctx context.Context) error {
		_, err := page.AddScriptToEvaluateOnNewDocument(src).Do(ctx)
		return err
	})
}

// noFilePicker makes the page take its Blob fallback (the download manager).
const noFilePicker = `delete window.showSaveFilePicker; delete Window.prototype.showSaveFilePicker;`

// fakeFilePicker stands in for the save dialog, which headless Chromium
// cannot show: it records the positional writes the page makes, so the
// streaming path is tested too.
const fakeFilePicker = `
window.showSaveFilePicker = async (opts) => {
  window.__picked = opts.suggestedName;
  let buf = new Uint8Array(0);
  window.__file = () => buf;
  window.__closed = false;
  return { createWritable: async () => ({
    write: async (w) => {
      if (w.type !== 'write') throw new Error('unexpected write ' + w.type);
      const end = w.position + w.data.length;
      if (end > buf.length) { const n = new Uint8Array(end); n.set(buf); buf = n; }
      buf.set(w.data, w.position);
    },
    truncate: async (n) => { buf = buf.slice(0, n); },
    close: async () => { window.__closed = true; },
    abort: async () => {},
  }) };
};`

func screenshot(t *testing.T, ctx context.Context, name string) []byte {
	t.Helper()
	var png []byte
	if err := chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100)); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("%s: not a PNG", name)
	}
	dir := testenv.Artifacts() // keep them, e.g. for CI artifacts
	if dir == "" {
		dir = t.TempDir()
	}
	dir = filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_"))
	os.MkdirAll(dir, 0o755)
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", path)
	return png
}

func visibleText(t *testing.T, ctx context.Context) string {
	t.Helper()
	var s string
	if err := chromedp.Run(ctx, chromedp.Evaluate(`document.body.innerText`, &s)); err != nil {
		t.Fatal(err)
	}
	return s
}

func noCSPViolations(t *testing.T, ctx context.Context) {
	t.Helper()
	var v []string
	if err := chromedp.Run(ctx, chromedp.Evaluate(`window.__csp`, &v)); err != nil {
		t.Fatal(err)
	}
	if len(v) > 0 {
		t.Fatalf("Content-Security-Policy violations: %v", v)
	}
}

func TestDownloadPage(t *testing.T) {
	exe := testenv.Chromium(t)
	pki := newWebPKI(t, "localhost")
	// Chunks on one relay, the page served by another: the page's
	// requests to the chunk relay are cross-origin (CORS).
	chunks := startRelay(t, "localhost", pki)
	pageRelay := startRelay(t, "localhost", pki)
	const size = 1<<20 + 300<<10 + 7 // several chunks of different sizes
	want, _, link := upload(t, "holiday photos.zip", size, chunks, pageRelay)

	t.Run("blob download", func(t *testing.T) {
		ctx := browserCtx(t, exe, pki)
		ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		defer cancel()
		downloads := t.TempDir()
		var name, status string
		err := chromedp.Run(ctx,
			browser.SetDownloadBehavior(browser.SetDownloadBehaviorBehaviorAllow).WithDownloadPath(downloads),
			initScript(noFilePicker),
			chromedp.Navigate(link),
			chromedp.WaitVisible("#save", chromedp.ByID),
			chromedp.Text("#name", &name, chromedp.ByID),
			chromedp.Text("#status", &status, chromedp.ByID),
		)
		if err != nil {
			t.Fatalf("%v; page says: %s", err, visibleText(t, ctx))
		}
		if name != "holiday photos.zip" || status != "Ready to save." {
			t.Fatalf("before saving: name %q, status %q", name, status)
		}
		// The link (and its file key) is gone from the address bar and
		// the history entry (issue 20, item 7).
		var href string
		if err := chromedp.Run(ctx, chromedp.Evaluate(`location.href`, &href)); err != nil || strings.Contains(href, "#") {
			t.Fatalf("the page keeps its fragment: %q, %v", href, err)
		}
		if err := chromedp.Run(ctx, chromedp.Click("#save", chromedp.ByID), chromedp.WaitVisible("#done", chromedp.ByID)); err != nil {
			t.Fatalf("%v; page says: %s", err, visibleText(t, ctx))
		}
		got := waitForDownload(t, filepath.Join(downloads, "holiday photos.zip"))
		if !bytes.Equal(got, want) {
			t.Fatalf("saved %d bytes that differ from the %d uploaded", len(got), len(want))
		}
		text := visibleText(t, ctx)
		for _, s := range []string{"Saved “holiday photos.zip” (1.3 MiB).", "Done."} {
			if !strings.Contains(text, s) {
				t.Fatalf("page does not say %q:\n%s", s, text)
			}
		}
		var progress float64
		chromedp.Run(ctx, chromedp.Evaluate(`document.getElementById('progress').value / document.getElementById('progress').max`, &progress))
		if progress != 1 {
			t.Fatalf("progress bar at %v at the end", progress)
		}
		screenshot(t, ctx, "download-success.png")
		noCSPViolations(t, ctx)
	})

	t.Run("file system access", func(t *testing.T) {
		ctx := browserCtx(t, exe, pki)
		ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		defer cancel()
		var picked, saved string
		var closed bool
		err := chromedp.Run(ctx,
			initScript(fakeFilePicker),
			chromedp.Navigate(link),
			chromedp.WaitVisible("#save", chromedp.ByID),
			chromedp.Click("#save", chromedp.ByID),
			chromedp.WaitVisible("#done", chromedp.ByID),
			chromedp.Evaluate(`window.__picked`, &picked),
			chromedp.Evaluate(`window.__closed`, &closed),
			chromedp.Evaluate(`(() => { let s = ''; for (const b of window.__file()) s += String.fromCharCode(b); return btoa(s); })()`, &saved),
		)
		if err != nil {
			t.Fatalf("%v; page says: %s", err, visibleText(t, ctx))
		}
		got, _ := base64.StdEncoding.DecodeString(saved)
		if picked != "holiday photos.zip" || !closed || !bytes.Equal(got, want) {
			t.Fatalf("picker got name %q, closed %v, %d bytes (equal: %v)", picked, closed, len(got), bytes.Equal(got, want))
		}
		noCSPViolations(t, ctx)
	})

	t.Run("blocked", func(t *testing.T) {
		_, rcv, blockedLink := upload(t, "evil.bin", 200<<10, chunks, pageRelay)
		admin, err := os.ReadFile(filepath.Join(chunks.data, "admin.address"))
		if err != nil {
			t.Fatal(err)
		}
		xftp(t, "admin", "block", rcv, "--reason", "content", "--notice", "court order 7/2026",
			"--admin", strings.TrimSpace(string(admin)), "--token-file", filepath.Join(chunks.data, "admin.token"))
		fp := strings.TrimPrefix(chunks.addr, "xftp://")[:8]
		ctx := browserCtx(t, exe, pki)
		ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		defer cancel()
		var msg string
		err = chromedp.Run(ctx,
			initScript(noFilePicker),
			chromedp.Navigate(blockedLink),
			chromedp.WaitVisible("#blocked", chromedp.ByID),
			chromedp.Text("#blocked", &msg, chromedp.ByID),
		)
		if err != nil {
			t.Fatalf("%v; page says: %s", err, visibleText(t, ctx))
		}
		want := "blocked by " + fp + " for content: court order 7/2026 (server localhost:" + chunks.port() + ")"
		if !strings.Contains(msg, want) {
			t.Fatalf("blocked message %q does not say %q", msg, want)
		}
		if text := visibleText(t, ctx); !strings.Contains(text, "This file is not available.") || strings.Contains(text, "Save file") {
			t.Fatalf("page in the blocked state:\n%s", text)
		}
		screenshot(t, ctx, "download-blocked.png")
		noCSPViolations(t, ctx)
	})

	t.Run("damaged link", func(t *testing.T) {
		ctx := browserCtx(t, exe, pki)
		ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		var msg string
		err := chromedp.Run(ctx,
			chromedp.Navigate(link[:len(link)-12]),
			chromedp.WaitVisible("#error", chromedp.ByID),
			chromedp.Text("#error", &msg, chromedp.ByID),
		)
		if err != nil || !strings.Contains(msg, "the link is damaged") {
			t.Fatalf("error %q, %v", msg, err)
		}
	})

	t.Run("without JavaScript", func(t *testing.T) {
		ctx := browserCtx(t, exe, pki)
		ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		if err := chromedp.Run(ctx, emulation.SetScriptExecutionDisabled(true), chromedp.Navigate(link)); err != nil {
			t.Fatal(err)
		}
		if text := visibleText(t, ctx); !strings.Contains(text, "This page needs JavaScript and WebAssembly") {
			t.Fatalf("no explanation without JavaScript:\n%s", text)
		}
	})
}

// waitForDownload waits for Chromium to finish writing path.
func waitForDownload(t *testing.T, path string) []byte {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil {
			if _, err := os.Stat(path + ".crdownload"); os.IsNotExist(err) {
				return b
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	t.Fatalf("no download at %s (folder holds %v)", path, entries)
	return nil
}
