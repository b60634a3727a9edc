package httpserver_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/api/httpserver"
	"github.com/xftp/xftp/identity"
	"github.com/xftp/xftp/internal/testrelay"
)

func TestCORS(t *testing.T) {
	relay := testrelay.Start(t, nil)
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("page")) })
	routes := httpserver.NewHandler(relay.Service, httpserver.HandlerOptions{Web: page}).Routes()
	preflight := func(path, method string) *http.Request {
		r := httptest.NewRequest(http.MethodOptions, path, nil)
		r.Header.Set("Origin", "https://files.example.org")
		r.Header.Set("Access-Control-Request-Method", method)
		r.Header.Set("Access-Control-Request-Headers", "content-type,xftp-auth")
		return r
	}
	get := func(method, path string) *http.Request {
		r := httptest.NewRequest(method, path, strings.NewReader("{}"))
		r.Header.Set("Origin", "https://files.example.org")
		return r
	}
	for _, tc := range []struct {
		name    string
		req     *http.Request
		status  int
		cors    bool
		methods string
	}{
		{"download preflight", preflight("/v1/chunks/AAAA/download", "POST"), 204, true, "POST"},
		{"identity preflight", preflight("/v1/identity?challenge=x", "GET"), 204, true, "GET"},
		{"ping preflight", preflight("/v1/ping", "GET"), 204, true, "GET"},
		{"create preflight", preflight("/v1/chunks", "POST"), 405, false, ""},
		{"ack preflight", preflight("/v1/chunks/AAAA/ack", "POST"), 405, false, ""},
		{"upload preflight", preflight("/v1/chunks/AAAA", "PUT"), 405, false, ""},
		{"ping", get("GET", "/v1/ping"), 200, true, ""},
		{"identity", get("GET", "/v1/identity?challenge=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"), 200, true, ""},
		// Errors must be readable too: the page shows them.
		{"download without auth", get("POST", "/v1/chunks/AAAA/download"), 400, true, ""},
		{"create", get("POST", "/v1/chunks"), 400, false, ""},
		{"page", get("GET", "/d/"), 200, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			routes.ServeHTTP(w, tc.req)
			h := w.Result().Header
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d", w.Code, tc.status)
			}
			if got := h.Get("Access-Control-Allow-Origin") == "*"; got != tc.cors {
				t.Fatalf("Access-Control-Allow-Origin %q, want CORS %v", h.Get("Access-Control-Allow-Origin"), tc.cors)
			}
			if h.Get("Access-Control-Allow-Credentials") != "" {
				t.Fatal("credentials must never be allowed")
			}
			if tc.methods != "" {
				if h.Get("Access-Control-Allow-Methods") != tc.methods || !strings.Contains(h.Get("Access-Control-Allow-Headers"), api.HeaderAuth) {
					t.Fatalf("preflight answer %v", h)
				}
			} else if tc.cors {
				for _, x := range []string{api.HeaderServerKey, api.HeaderKeySignature, "Date"} {
					if !strings.Contains(h.Get("Access-Control-Expose-Headers"), x) {
						t.Fatalf("%s not exposed: %q", x, h.Get("Access-Control-Expose-Headers"))
					}
				}
			}
		})
	}
	// Without a page configured, /d/ is an unknown path.
	w := httptest.NewRecorder()
	httpserver.NewHandler(relay.Service, httpserver.HandlerOptions{}).Routes().ServeHTTP(w, get("GET", "/d/"))
	if w.Code != 404 {
		t.Fatalf("/d/ without a page: %d", w.Code)
	}
}

// webCert is a certificate for host, as a CA would issue it (ECDSA).
func webCert(t *testing.T, host string) *tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func TestWebCertificate(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	id := &identity.Identity{Key: key}
	idCert, err := id.Certificate(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	web := webCert(t, "files.example.org")
	pick := httpserver.WebCertificate(&idCert, web, "Files.Example.org.")
	browser := []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256, tls.PSSWithSHA256, tls.PKCS1WithSHA256}
	xftp := append([]tls.SignatureScheme{tls.Ed25519}, browser...)
	for _, tc := range []struct {
		name    string
		sni     string
		schemes []tls.SignatureScheme
		web     bool
	}{
		{"browser asking for the web host", "files.example.org", browser, true},
		{"browser, trailing dot", "files.example.org.", browser, true},
		{"xftp client asking for the web host", "files.example.org", xftp, false},
		{"browser asking for another name", "other.example.org", browser, false},
		{"no SNI (an IP address)", "", browser, false},
	} {
		hello := &tls.ClientHelloInfo{ServerName: tc.sni, SignatureSchemes: tc.schemes, SupportedVersions: []uint16{tls.VersionTLS13},
			CipherSuites: []uint16{tls.TLS_AES_128_GCM_SHA256}, SupportedCurves: []tls.CurveID{tls.X25519, tls.CurveP256}, SupportedPoints: []uint8{0}}
		got, _ := pick(hello)
		if (got == web) != tc.web {
			t.Errorf("%s: web certificate %v, want %v", tc.name, got == web, tc.web)
		}
	}
	if got, _ := httpserver.WebCertificate(&idCert, nil, "files.example.org")(&tls.ClientHelloInfo{ServerName: "files.example.org", SignatureSchemes: browser}); got != &idCert {
		t.Error("without a web certificate, the identity certificate must be served")
	}

	// A real xftp client (Go TLS, which offers Ed25519) naming the web host
	// still gets the identity certificate and accepts the server.
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.TLS = &tls.Config{GetCertificate: pick}
	srv.StartTLS()
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	conn, err := tls.Dial("tcp", srv.Listener.Addr().String(), &tls.Config{ServerName: "files.example.org", InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	leaf := conn.ConnectionState().PeerCertificates[0]
	if err := identity.VerifyCertificate(id.Fingerprint(), [][]byte{leaf.Raw}); err != nil {
		t.Fatalf("xftp client on port %s got the web certificate: %v", port, err)
	}
}
