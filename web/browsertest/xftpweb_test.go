package browsertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/xftp/xftp/internal/testenv"
)

// TestXFTPWebInBrowser runs SimpleX's own XFTP web client, xftp-web (built
// by scripts/test, see testenv.XFTPWeb), in a real Chromium page against
// xftpd: the page comes from a small static server on another loopback
// origin (http://127.0.0.1:P, with an import map for xftp-web's npm
// dependencies), so every XFTP request to https://localhost:R is
// cross-origin and the handshake's custom headers need CORS preflights. The
// browser checks xftpd's web certificate (trusted by its key only, as in
// TestDownloadPage). The page uploads a file, a fresh page downloads it
// byte-identical, the sender deletes it and the download then fails. The
// preflight answers are read off the DevTools network events, and a proxy
// that drops xftpd's Access-Control-* headers shows that without them the
// browser refuses the very first request.
func TestXFTPWebInBrowser(t *testing.T) {
	exe := testenv.Chromium(t)
	xftpWeb := testenv.XFTPWeb(t)
	pki := newWebPKI(t, "localhost")
	r := startRelay(t, "localhost", pki)
	addr := xftpAddressOf(t, r)
	relayOrigin := "https://localhost:" + r.port()
	if !strings.HasSuffix(addr, "@localhost:"+r.port()) {
		t.Fatalf("XFTP address %q is not for localhost:%s", addr, r.port())
	}

	const size = 1<<20 + 300<<10 + 7 // several chunks
	input := make([]byte, size)
	rand.Read(input)
	page := startPageServer(t, xftpWeb, input)

	ctx := browserCtx(t, exe, pki)
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	nl := watchNetwork(ctx)
	if err := chromedp.Run(ctx, network.Enable()); err != nil {
		t.Fatal(err)
	}
	open := func() {
		t.Helper()
		err := chromedp.Run(ctx, chromedp.Navigate(page.url+"/"),
			chromedp.Poll(`window.xftpTest !== undefined`, nil, chromedp.WithPollingTimeout(60*time.Second)))
		if err != nil {
			t.Fatalf("the page did not load xftp-web: %v", err)
		}
	}

	// Upload, then download in a fresh page (new agent, new handshake).
	open()
	start := time.Now()
	var up struct {
		URI, Snd string
		Chunks   int
	}
	if err := call(ctx, &up, "upload", addr, "photo.jpg"); err != nil {
		t.Fatalf("upload: %v", err)
	}
	t.Logf("uploaded %d bytes in %d chunks in %v", size, up.Chunks, time.Since(start).Round(time.Millisecond))
	if up.URI == "" || up.Snd == "" || up.Chunks < 2 {
		t.Fatalf("upload returned %+v", up)
	}
	open()
	start = time.Now()
	var down struct {
		Name string
		Size int
	}
	if err := call(ctx, &down, "download", up.URI); err != nil {
		t.Fatalf("download: %v", err)
	}
	var got []byte
	select {
	case got = <-page.result:
	case <-ctx.Done():
		t.Fatal("the page posted no downloaded bytes")
	}
	t.Logf("downloaded %d bytes in %v", len(got), time.Since(start).Round(time.Millisecond))
	if down.Name != "photo.jpg" || !bytes.Equal(got, input) {
		t.Fatalf("downloaded %q, %d bytes (identical: %v); uploaded photo.jpg, %d bytes", down.Name, len(got), bytes.Equal(got, input), size)
	}

	// The sender deletes the file; the recipient's link stops working.
	var deleted string
	if err := call(ctx, &deleted, "remove", up.Snd); err != nil {
		t.Fatalf("delete: %v", err)
	}
	err := call(ctx, &down, "download", up.URI)
	if err == nil || !strings.Contains(err.Error(), "XFTPPermanentError") || !strings.Contains(err.Error(), "removed") {
		t.Fatalf("download after delete: %v, want xftp-web's permanent error (AUTH)", err)
	}
	t.Logf("download after delete: %v", err)

	// What the browser saw of the relay: preflights answered with CORS, and
	// XFTP POSTs over HTTP/2, each readable cross-origin.
	var preflights, posts int
	for _, e := range nl.to(relayOrigin) {
		switch {
		case e.failed != "":
			t.Errorf("%s %s failed: %s", e.method, e.url, e.failed)
		case e.typ == network.ResourceTypePreflight:
			preflights++
			if e.reqHeaders["origin"] != page.url || !strings.Contains(e.reqHeaders["access-control-request-headers"], "xftp-") {
				t.Errorf("preflight request from %q for headers %q", e.reqHeaders["origin"], e.reqHeaders["access-control-request-headers"])
			}
			h := e.headers
			if e.status != http.StatusOK || h["access-control-allow-origin"] != "*" || h["access-control-allow-headers"] != "*" ||
				!strings.Contains(h["access-control-allow-methods"], "POST") {
				t.Errorf("preflight answer: %d %v", e.status, h)
			}
		case e.method == http.MethodPost:
			posts++
			if e.status != http.StatusOK || e.protocol != "h2" || e.headers["access-control-allow-origin"] != "*" {
				t.Errorf("POST %s: %d over %s, Access-Control-Allow-Origin %q", e.url, e.status, e.protocol, e.headers["access-control-allow-origin"])
			}
		}
	}
	t.Logf("the browser made %d preflights and %d XFTP POSTs to the relay", preflights, posts)
	if preflights == 0 || posts < 10 {
		t.Fatalf("%d preflights and %d POSTs to %s: the page did not talk to the relay cross-origin", preflights, posts, relayOrigin)
	}

	// CORS matters: through a proxy that keeps the relay's answers whole
	// the client connects and pings; through the same proxy dropping the
	// Access-Control-* headers the browser refuses the first request.
	keep := corsProxy(t, r.port(), pki, false)
	strip := corsProxy(t, r.port(), pki, true)
	at := func(port string) string { return strings.TrimSuffix(addr, r.port()) + port }
	var pong string
	if err := call(ctx, &pong, "ping", at(keep)); err != nil || pong != "PONG" {
		t.Fatalf("ping through the proxy keeping CORS: %q, %v", pong, err)
	}
	err = call(ctx, &pong, "ping", at(strip))
	if err == nil || !strings.Contains(err.Error(), "Failed to fetch") {
		t.Fatalf("ping through the proxy without CORS: %q, %v; want the browser's TypeError", pong, err)
	}
	var corsErrors []string
	for _, e := range nl.to("https://localhost:" + strip) {
		if e.cors != "" {
			corsErrors = append(corsErrors, e.method+" "+string(e.typ)+": "+e.cors)
		}
	}
	if len(corsErrors) == 0 {
		t.Fatalf("the browser reported no CORS error for the proxy without CORS (requests: %+v)", nl.to("https://localhost:"+strip))
	}
	t.Logf("without CORS headers: %v", corsErrors)
}

// xftpAddressOf waits for the relay's xftp:// address in its data folder.
func xftpAddressOf(t *testing.T, r *relay) string {
	t.Helper()
	path := filepath.Join(r.data, "xftp-address")
	deadline := time.Now().Add(20 * time.Second)
	for {
		if b, err := os.ReadFile(path); err == nil && strings.HasPrefix(string(b), "xftp://") {
			return strings.TrimSpace(string(b))
		}
		if time.Now().After(deadline) {
			t.Fatalf("xftpd wrote no %s; stderr:\n%s", path, r.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// call runs xftpTest.fn(args...) in the page and decodes its result into
// out; the page's {error} becomes the error.
func call(ctx context.Context, out any, fn string, args ...string) error {
	js := make([]string, len(args))
	for i, a := range args {
		b, _ := json.Marshal(a)
		js[i] = string(b)
	}
	var res struct {
		OK    json.RawMessage `json:"ok"`
		Error string          `json:"error"`
	}
	expr := fmt.Sprintf("xftpTest.%s(%s)", fn, strings.Join(js, ", "))
	err := chromedp.Run(ctx, chromedp.Evaluate(expr, &res, func(p *runtime.EvaluateParams) *runtime.EvaluateParams {
		return p.WithAwaitPromise(true)
	}))
	switch {
	case err != nil:
		return err
	case res.Error != "":
		return errors.New(res.Error)
	}
	return json.Unmarshal(res.OK, out)
}

// pageServer is the page's origin: our page script, xftp-web's dist/ and
// the npm packages it imports, the file to upload (/input) and a place for
// the downloaded bytes (/result).
type pageServer struct {
	url    string
	result chan []byte
}

func startPageServer(t *testing.T, xftpWeb string, input []byte) *pageServer {
	t.Helper()
	imports, pkgs, err := importMap(xftpWeb)
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile("testdata/xftpweb/page.mjs")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := json.MarshalIndent(map[string]any{"imports": imports}, "", "  ")
	index := `<!doctype html>
<meta charset="utf-8">
<title>xftp-web test page</title>
<script type="importmap">` + string(m) + `</script>
<script type="module" src="/page.mjs"></script>
`
	p := &pageServer{result: make(chan []byte, 1)}
	files := http.FileServer(http.Dir(xftpWeb))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, index)
	})
	mux.Handle("GET /page.mjs", modules(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(script) })))
	mux.HandleFunc("GET /input", func(w http.ResponseWriter, r *http.Request) { w.Write(input) })
	mux.HandleFunc("POST /result", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		select {
		case p.result <- b:
		default:
			http.Error(w, "a result is waiting already", http.StatusConflict)
		}
	})
	mux.Handle("GET /dist/", modules(files))
	for _, pkg := range pkgs {
		mux.Handle("GET /node_modules/"+pkg+"/", modules(files))
	}
	srv := httptest.NewServer(mux) // 127.0.0.1
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

// modules serves JavaScript with the type browsers require of modules,
// whatever the system's MIME table says.
func modules(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".js") || strings.HasSuffix(r.URL.Path, ".mjs") {
			w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		}
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// importMap maps the bare specifiers of xftp-web's dependencies, and of
// theirs, to their ES module files under /node_modules/, as a bundler
// would: from each package's "exports" (conditions browser, import,
// default), else its "module" or "main". It returns the packages too.
func importMap(dir string) (map[string]string, []string, error) {
	imports := map[string]string{}
	var pkgs []string
	seen := map[string]bool{}
	var add func(name string) error
	add = func(name string) error {
		if seen[name] {
			return nil
		}
		seen[name] = true
		pj, err := readPackageJSON(filepath.Join(dir, "node_modules", name, "package.json"))
		if err != nil {
			return err
		}
		pkgs = append(pkgs, name)
		base := "/node_modules/" + name + "/"
		var exports any
		if len(pj.Exports) > 0 {
			if err := json.Unmarshal(pj.Exports, &exports); err != nil {
				return fmt.Errorf("%s: exports: %w", name, err)
			}
		}
		if e, ok := exports.(map[string]any); ok && !isSubpaths(e) {
			exports = map[string]any{".": e} // conditions of the package itself
		}
		switch e := exports.(type) {
		case string:
			imports[name] = base + strings.TrimPrefix(e, "./")
		case map[string]any:
			for sub, v := range e {
				target, ok := exportTarget(v)
				switch {
				case !ok:
				case sub == ".":
					imports[name] = base + strings.TrimPrefix(target, "./")
				case strings.HasSuffix(sub, "/*") && strings.HasSuffix(target, "/*"):
					imports[name+strings.TrimSuffix(sub[1:], "*")] = base + strings.TrimSuffix(strings.TrimPrefix(target, "./"), "*")
				case !strings.Contains(sub, "*"):
					imports[name+sub[1:]] = base + strings.TrimPrefix(target, "./")
				}
			}
		default:
			main := pj.Module
			if main == "" {
				main = pj.Main
			}
			if main == "" {
				main = "index.js"
			}
			imports[name] = base + strings.TrimPrefix(main, "./")
			imports[name+"/"] = base
		}
		deps := make([]string, 0, len(pj.Dependencies))
		for d := range pj.Dependencies {
			deps = append(deps, d)
		}
		sort.Strings(deps)
		for _, d := range deps {
			if err := add(d); err != nil {
				return err
			}
		}
		return nil
	}
	root, err := readPackageJSON(filepath.Join(dir, "package.json"))
	if err != nil {
		return nil, nil, err
	}
	deps := make([]string, 0, len(root.Dependencies))
	for d := range root.Dependencies {
		deps = append(deps, d)
	}
	sort.Strings(deps)
	for _, d := range deps {
		if err := add(d); err != nil {
			return nil, nil, err
		}
	}
	return imports, pkgs, nil
}

type packageJSON struct {
	Module, Main string
	Exports      json.RawMessage
	Dependencies map[string]string
}

func readPackageJSON(path string) (*packageJSON, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var pj packageJSON
	if err := json.Unmarshal(b, &pj); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &pj, nil
}

// isSubpaths tells an "exports" object of subpaths ("./x") from one of
// conditions.
func isSubpaths(e map[string]any) bool {
	for k := range e {
		return strings.HasPrefix(k, ".")
	}
	return false
}

// exportTarget picks the file a browser's module loader should get.
func exportTarget(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case map[string]any:
		for _, cond := range []string{"browser", "import", "default"} {
			if c, ok := v[cond]; ok {
				return exportTarget(c)
			}
		}
	}
	return "", false
}

// corsProxy serves https://localhost:PORT under the relay's web
// certificate and forwards everything to the relay over one HTTP/2
// connection (XFTP web sessions are per connection). With strip it drops
// the relay's Access-Control-* headers, as a server without CORS would
// answer. It returns PORT.
func corsProxy(t *testing.T, relayPort string, pki webPKI, strip bool) string {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(pki.certFile, pki.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	protocols := new(http.Protocols)
	protocols.SetHTTP2(true)
	upstream := &http.Transport{
		// The relay's identity certificate on loopback; xftp-web checks
		// the relay end to end anyway (the XFTP web handshake, signed for
		// the key hash in the address, passes through the proxy).
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
		Protocols:       protocols,
	}
	target := &url.URL{Scheme: "https", Host: net.JoinHostPort("127.0.0.1", relayPort)}
	proxy := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		Transport: upstream,
		ModifyResponse: func(resp *http.Response) error {
			if strip {
				for k := range resp.Header {
					if strings.HasPrefix(k, "Access-Control-") {
						delete(resp.Header, k)
					}
				}
			}
			return nil
		},
	}
	srv := httptest.NewUnstartedServer(proxy)
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(func() {
		srv.Close()
		upstream.CloseIdleConnections()
	})
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	return port
}

// netLog keeps what DevTools reports of the page's requests.
type netLog struct {
	mu    sync.Mutex
	order []network.RequestID
	reqs  map[network.RequestID]*netEntry
}

type netEntry struct {
	url, method string
	reqHeaders  map[string]string // lower-case names
	typ         network.ResourceType
	status      int64
	protocol    string
	headers     map[string]string // the answer's, lower-case names
	failed      string            // the error, if the request failed
	cors        string            // the CORS error, if that was why
}

func watchNetwork(ctx context.Context) *netLog {
	nl := &netLog{reqs: map[network.RequestID]*netEntry{}}
	entry := func(id network.RequestID) *netEntry {
		e := nl.reqs[id]
		if e == nil {
			e = &netEntry{}
			nl.reqs[id] = e
			nl.order = append(nl.order, id)
		}
		return e
	}
	chromedp.ListenTarget(ctx, func(ev any) {
		nl.mu.Lock()
		defer nl.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			e := entry(ev.RequestID)
			e.url, e.method, e.typ = ev.Request.URL, ev.Request.Method, ev.Type
			e.reqHeaders = lower(ev.Request.Headers)
		case *network.EventResponseReceived:
			e := entry(ev.RequestID)
			e.typ, e.status, e.protocol = ev.Type, ev.Response.Status, ev.Response.Protocol
			if e.url == "" {
				e.url = ev.Response.URL
			}
			e.headers = lower(ev.Response.Headers)
		case *network.EventLoadingFailed:
			e := entry(ev.RequestID)
			e.typ, e.failed = ev.Type, ev.ErrorText
			if ev.CorsErrorStatus != nil {
				e.cors = ev.CorsErrorStatus.CorsError.String()
			}
		}
	})
	return nl
}

func lower(h network.Headers) map[string]string {
	m := map[string]string{}
	for k, v := range h {
		m[strings.ToLower(k)] = fmt.Sprint(v)
	}
	return m
}

// to is the requests to origin, in order.
func (nl *netLog) to(origin string) []netEntry {
	nl.mu.Lock()
	defer nl.mu.Unlock()
	var out []netEntry
	for _, id := range nl.order {
		if e := nl.reqs[id]; strings.HasPrefix(e.url, origin+"/") || e.url == origin {
			out = append(out, *e)
		}
	}
	return out
}
