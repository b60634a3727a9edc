package httpserver

import (
	"crypto/tls"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/xftp/xftp/api"
)

// Browser access (see docs/WEB.md). The download page that xftpd serves at
// /d/ (HandlerOptions.Web) fetches chunks from every relay its link names,
// usually other origins, so the endpoints it uses answer CORS:
//
//   - GET /v1/identity, GET /v1/ping, POST /v1/chunks/{id}/download, and
//     their OPTIONS preflights.
//   - Access-Control-Allow-Origin is "*". These requests carry no cookies
//     or HTTP authentication (credentials are never allowed): each is
//     authorized by a signature made with a key from the link, so knowing
//     the origin of a page adds nothing, and a relay must serve pages
//     served by other operators' relays (a link may mix servers of several
//     operators). An allow-list would protect nothing that a non-browser
//     client could not do anyway.
//   - The Xftp-Auth and Content-Type request headers are allowed, and the
//     Xftp-* answer headers, Date (for CLOCK) and Retry-After are exposed.
const (
	corsAllowHeaders  = "Content-Type, " + api.HeaderAuth
	corsExposeHeaders = api.HeaderServerKey + ", " + api.HeaderKeySignature + ", " + api.HeaderRequestID + ", Date, Retry-After"
	corsMaxAge        = "600"
)

// browserEndpoint reports which methods a browser may use on path.
func browserEndpoint(path string) string {
	switch path {
	case "/v1/identity", "/v1/ping":
		return "GET"
	}
	if id, ok := strings.CutPrefix(path, "/v1/chunks/"); ok {
		if id, ok := strings.CutSuffix(id, "/download"); ok && id != "" && !strings.Contains(id, "/") {
			return "POST"
		}
	}
	return ""
}

// cors answers preflights and marks answers readable by any origin for the
// endpoints that the download page uses; other paths are untouched.
func cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method := browserEndpoint(r.URL.Path)
		if method == "" {
			next.ServeHTTP(w, r)
			return
		}
		hd := w.Header()
		hd.Set("Access-Control-Allow-Origin", "*")
		hd.Add("Vary", "Origin")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			hd.Set("Access-Control-Allow-Methods", method)
			hd.Set("Access-Control-Allow-Headers", corsAllowHeaders)
			hd.Set("Access-Control-Max-Age", corsMaxAge)
			hd.Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		hd.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		next.ServeHTTP(w, r)
	})
}

// mountWeb serves the download page, if configured, at /d/.
func (h *Handler) mountWeb(r chi.Router) {
	if h.opts.Web != nil {
		// The page's module is megabytes: slow links get longer than
		// RequestTimeout, but not forever.
		web := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			setDeadlines(w, 4*h.opts.RequestTimeout)
			pw := &progressWriter{ResponseWriter: w, rc: http.NewResponseController(w), stall: h.opts.PageStall,
				end: time.Now().Add(4 * h.opts.RequestTimeout)}
			h.opts.Web.ServeHTTP(pw, r)
		})
		r.Handle("/d", web)
		r.Handle("/d/*", web)
	}
}

// progressWriter writes in pieces, each within stall, all within end: a
// reader that stops reading is cut after stall, not at end. The page's
// slow readers held its slots (and megabytes of the host's TCP buffers)
// for the whole 4 × RequestTimeout.
type progressWriter struct {
	http.ResponseWriter
	rc    *http.ResponseController
	stall time.Duration
	end   time.Time
}

// progressPiece is the progress a page's answer must make within stall.
const progressPiece = 64 << 10

func (w *progressWriter) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		deadline := time.Now().Add(w.stall)
		if deadline.After(w.end) {
			deadline = w.end
		}
		w.rc.SetWriteDeadline(deadline)
		m, err := w.ResponseWriter.Write(p[n:min(len(p), n+progressPiece)])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Unwrap keeps http.ResponseController working through it.
func (w *progressWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// WebCertificate returns a tls.Config.GetCertificate that lets one listener
// serve both kinds of client on the same host and port: xftp clients, which
// pin the identity key and get the identity certificate as always, and
// browsers, which need a certificate under the web PKI for host (web).
//
// The web certificate is chosen when the client asked for host by SNI and
// cannot use the identity certificate, which is Ed25519: browsers do not
// offer Ed25519 signatures in their ClientHello, while xftp clients (Go)
// always do, and would refuse the web certificate unless their address
// says tls=web. (tls.ClientHelloInfo.SupportsCertificate cannot decide
// this: it also checks names, which the identity certificate has none of.) Everything else gets the identity certificate. A browser
// still verifies the identity by the signed challenge and the signed
// download keys, as xftp clients do behind a reverse proxy.
func WebCertificate(idCert, web *tls.Certificate, host string) func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		if web != nil && strings.EqualFold(strings.TrimSuffix(hello.ServerName, "."), host) && !slices.Contains(hello.SignatureSchemes, tls.Ed25519) {
			return web, nil
		}
		return idCert, nil
	}
}
