package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"io"
	"net/http"
	"strconv"
	"strings"
)

//go:embed static
var static embed.FS

// CSP is the page's Content-Security-Policy: only its own scripts (no
// inline script, no eval except compiling WebAssembly), styles and images;
// connect-src allows https: because the page fetches chunks from whatever
// relays the link names; no frames, forms, plugins or base URL changes.
const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self' https:; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

type asset struct {
	body, gz []byte // gz: the stored gzip form, served as is when accepted
	ctype    string
	etag     string
}

// Handler serves the page at /d/ and its assets at /d/NAME. It answers
// nothing else (404).
func Handler() http.Handler {
	assets := map[string]*asset{}
	add := func(name, file, ctype string) {
		b, err := static.ReadFile("static/" + file)
		if err != nil {
			panic("web: missing embedded " + file + " (run go generate ./web)")
		}
		a := &asset{body: b, ctype: ctype}
		if strings.HasSuffix(file, ".gz") {
			a.gz = b
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				panic("web: " + file + ": " + err.Error())
			}
			if a.body, err = io.ReadAll(zr); err != nil {
				panic("web: " + file + ": " + err.Error())
			}
		}
		sum := sha256.Sum256(a.body)
		a.etag = `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
		assets[name] = a
	}
	add("/d/", "index.html", "text/html; charset=utf-8")
	add("/d/app.js", "app.js", "text/javascript; charset=utf-8")
	add("/d/wasm_exec.js", "wasm_exec.js", "text/javascript; charset=utf-8")
	add("/d/style.css", "style.css", "text/css; charset=utf-8")
	add("/d/xftp.wasm", "xftp.wasm.gz", "application/wasm")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", CSP)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Cross-Origin-Resource-Policy", "same-origin")
		hd.Set("X-Robots-Tag", "noindex")
		if r.URL.Path == "/d" {
			// Browsers keep the #fragment across a redirect.
			http.Redirect(w, r, "/d/", http.StatusMovedPermanently)
			return
		}
		a, ok := assets[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			hd.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		hd.Set("Content-Type", a.ctype)
		hd.Set("Cache-Control", "no-cache") // revalidate: a new xftpd may ship a new module
		hd.Set("ETag", a.etag)
		hd.Set("Vary", "Accept-Encoding")
		if r.Header.Get("If-None-Match") == a.etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		body := a.body
		if a.gz != nil && acceptsGzip(r) {
			hd.Set("Content-Encoding", "gzip")
			body = a.gz
		}
		hd.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			w.Write(body)
		}
	})
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(name) == "gzip" && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}
