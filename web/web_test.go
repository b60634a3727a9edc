package web_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/xftp/xftp/web"
)

func TestPageHeaders(t *testing.T) {
	h := web.Handler()
	for _, tc := range []struct {
		path, accept string
		status       int
		ctype, enc   string
	}{
		{"/d/", "", 200, "text/html; charset=utf-8", ""},
		{"/d/app.js", "", 200, "text/javascript; charset=utf-8", ""},
		{"/d/wasm_exec.js", "", 200, "text/javascript; charset=utf-8", ""},
		{"/d/style.css", "", 200, "text/css; charset=utf-8", ""},
		{"/d/xftp.wasm", "gzip, deflate, br", 200, "application/wasm", "gzip"},
		{"/d/xftp.wasm", "", 200, "application/wasm", ""},
		{"/d/xftp.wasm", "gzip;q=0", 200, "application/wasm", ""},
		{"/d", "", 301, "", ""},
		{"/d/index.html", "", 404, "", ""},
		{"/d/../go.mod", "", 404, "", ""},
	} {
		r := httptest.NewRequest("GET", tc.path, nil)
		if tc.accept != "" {
			r.Header.Set("Accept-Encoding", tc.accept)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		res := w.Result()
		if res.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.path, res.StatusCode, tc.status)
			continue
		}
		if got := res.Header.Get("Content-Security-Policy"); got != web.CSP {
			t.Errorf("%s: CSP %q", tc.path, got)
		}
		if res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: missing hardening headers: %v", tc.path, res.Header)
		}
		if tc.status != 200 {
			continue
		}
		if res.Header.Get("Content-Type") != tc.ctype || res.Header.Get("Content-Encoding") != tc.enc {
			t.Errorf("%s: type %q encoding %q", tc.path, res.Header.Get("Content-Type"), res.Header.Get("Content-Encoding"))
		}
		body := w.Body.Bytes()
		if tc.enc == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			body, _ = io.ReadAll(zr)
		}
		if strings.HasSuffix(tc.path, ".wasm") && !bytes.HasPrefix(body, []byte("\x00asm")) {
			t.Errorf("%s: not WebAssembly", tc.path)
		}
		// Revalidation by ETag.
		r2 := httptest.NewRequest("GET", tc.path, nil)
		r2.Header.Set("If-None-Match", res.Header.Get("ETag"))
		w2 := httptest.NewRecorder()
		h.ServeHTTP(w2, r2)
		if w2.Code != http.StatusNotModified {
			t.Errorf("%s: If-None-Match gave %d", tc.path, w2.Code)
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/d/", nil))
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /d/: %d", w.Code)
	}
}

// TestCSPStrict keeps the policy strict and the page within it: no inline
// script or style, no event-handler attributes, no javascript: URLs, no
// resources from elsewhere, and a <noscript> explanation.
func TestCSPStrict(t *testing.T) {
	for _, want := range []string{"default-src 'self'", "script-src 'self' 'wasm-unsafe-eval';", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(web.CSP, want) {
			t.Errorf("CSP lacks %q", want)
		}
	}
	if strings.Contains(web.CSP, "unsafe-inline") || strings.Contains(web.CSP, "'unsafe-eval'") {
		t.Error("CSP allows inline code or eval")
	}
	page, err := os.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]*\S[^<]*</script>`), // inline script
		regexp.MustCompile(`<script(?:\s+(?:defer|async|type="[^"]*"))*\s*>`),
		regexp.MustCompile(`(?i)\son[a-z]+\s*=`),
		regexp.MustCompile(`(?i)<style`),
		regexp.MustCompile(`(?i)\sstyle\s*=`),
		regexp.MustCompile(`(?i)javascript:`),
		regexp.MustCompile(`(?i)(src|href)\s*=\s*"(https?:)?//`),
	} {
		if m := bad.Find(page); m != nil {
			t.Errorf("index.html: %q breaks the policy", m)
		}
	}
	if !bytes.Contains(page, []byte("<noscript>")) {
		t.Error("index.html has no <noscript> explanation")
	}
	js, _ := os.ReadFile("static/app.js")
	for _, bad := range []string{"eval(", "new Function", "innerHTML", "http://", "https://"} {
		if bytes.Contains(js, []byte(bad)) {
			t.Errorf("app.js uses %q", bad)
		}
	}
}

// TestAssetsFresh fails when static/xftp.wasm.gz or static/wasm_exec.js is
// not what 'go generate ./web' makes from the current code and toolchain:
// the page must run the same crypto code as the xftp program.
func TestAssetsFresh(t *testing.T) {
	out := filepath.Join(t.TempDir(), "xftp.wasm")
	build := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out, "./wasm")
	build.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the WebAssembly module: %v\n%s", err, b)
	}
	want, _ := os.ReadFile(out)
	z, err := os.ReadFile("static/xftp.wasm.gz")
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(zr)
	if !bytes.Equal(got, want) {
		t.Error("static/xftp.wasm.gz is stale: run go generate ./web")
	}
	root, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatal(err)
	}
	glue, _ := os.ReadFile(filepath.Join(strings.TrimSpace(string(root)), "lib", "wasm", "wasm_exec.js"))
	if ours, _ := os.ReadFile("static/wasm_exec.js"); !bytes.Equal(glue, ours) {
		t.Error("static/wasm_exec.js is not the toolchain's: run go generate ./web")
	}
}
