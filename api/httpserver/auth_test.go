package httpserver_test

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/api/httpclient"
	"github.com/xftp/xftp/api/httpserver"
	"github.com/xftp/xftp/identity"
	"github.com/xftp/xftp/internal/testrelay"
)

// rawRequest sends a hand-made request, so tests can replay and tamper.
func rawRequest(t *testing.T, c *httpclient.Client, method, path string, body []byte, auth string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(bg, method, rawBase(c)+path, bytes.NewReader(body))
	req.Header.Set(api.HeaderAuth, auth)
	resp, err := rawHTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestReplayedRequestRefused(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.client()
	c.VerifyIdentity(bg)
	body, digest := randomChunk(size64K)
	rk := newKey()
	snd, cr := uploadChunk(t, c, body, digest, rk)
	path := chunkPath(cr.SenderID, "/recipients")
	req, _ := json.Marshal(api.RecipientsRequest{RecipientKeys: []api.B64{api.B64(pubs(newKey())[0])}})
	auth := api.Sign(snd, ts.Address.Fingerprint, http.MethodPost, path, api.BodyHash(req), time.Now()).String()
	if status, _ := rawRequest(t, c, http.MethodPost, path, req, auth); status != http.StatusOK {
		t.Fatalf("first request: %d", status)
	}
	if status, body := rawRequest(t, c, http.MethodPost, path, req, auth); status != http.StatusForbidden || !strings.Contains(body, api.CodeAuth) {
		t.Fatalf("replayed request: %d %s", status, body)
	}
	// The same signature on a changed body fails too.
	req2, _ := json.Marshal(api.RecipientsRequest{RecipientKeys: []api.B64{api.B64(pubs(newKey())[0])}})
	auth2 := api.Sign(snd, ts.Address.Fingerprint, http.MethodPost, path, api.BodyHash(req), time.Now()).String()
	if status, _ := rawRequest(t, c, http.MethodPost, path, req2, auth2); status != http.StatusForbidden {
		t.Fatalf("signature over another body accepted: %d", status)
	}
}

func TestCrossServerReplayRefused(t *testing.T) {
	a, b := newTestServer(t, nil), newTestServer(t, nil)
	cb := b.client()
	cb.VerifyIdentity(bg)
	snd := newKey()
	_, digest := randomChunk(size64K)
	req, _ := json.Marshal(api.CreateRequest{SenderKey: api.B64(pubs(snd)[0]), Size: size64K, Digest: digest[:], RecipientKeys: []api.B64{api.B64(pubs(newKey())[0])}})
	// Signed for server A, sent to server B.
	auth := api.Sign(snd, a.Address.Fingerprint, http.MethodPost, "/v1/chunks", api.BodyHash(req), time.Now()).String()
	if status, _ := rawRequest(t, cb, http.MethodPost, "/v1/chunks", req, auth); status != http.StatusForbidden {
		t.Fatalf("request signed for another server accepted: %d", status)
	}
}

func TestRequestSignedForAnotherIDRefused(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.client()
	body, digest := randomChunk(size64K)
	rk1, rk2 := newKey(), newKey()
	_, cr := uploadChunk(t, c, body, digest, rk1, rk2)
	// Recipient 2's key on recipient 1's ID.
	_, err := download(c, cr.RecipientIDs[0], rk2, size64K)
	wantCode(t, err, api.CodeAuth)
	// A valid signature for ID 1 sent to the path of ID 2.
	c.VerifyIdentity(bg)
	path1, path2 := chunkPath(cr.RecipientIDs[0], "/ack"), chunkPath(cr.RecipientIDs[1], "/ack")
	auth := api.Sign(rk1, ts.Address.Fingerprint, http.MethodPost, path1, api.BodyHash(nil), time.Now()).String()
	if status, _ := rawRequest(t, c, http.MethodPost, path2, nil, auth); status != http.StatusForbidden {
		t.Fatalf("signature for another ID accepted: %d", status)
	}
}

// An unknown ID and a bad signature give the same answer, byte for byte.
// (Both also cost one signature check: see server.authorize.)
func TestUnknownIDIndistinguishableFromBadSignature(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.client()
	c.VerifyIdentity(bg)
	body, digest := randomChunk(size64K)
	rk := newKey()
	_, cr := uploadChunk(t, c, body, digest, rk)
	unknown := make([]byte, 24)
	known := chunkPath(cr.RecipientIDs[0], "/ack")
	other := chunkPath(unknown, "/ack")
	s1, b1 := rawRequest(t, c, http.MethodPost, known, nil, api.Sign(newKey(), ts.Address.Fingerprint, http.MethodPost, known, api.BodyHash(nil), time.Now()).String())
	s2, b2 := rawRequest(t, c, http.MethodPost, other, nil, api.Sign(rk, ts.Address.Fingerprint, http.MethodPost, other, api.BodyHash(nil), time.Now()).String())
	if s1 != s2 || b1 != b2 {
		t.Fatalf("bad signature: %d %q; unknown ID: %d %q", s1, b1, s2, b2)
	}
}

func TestMalformedRequestsRefused(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.client()
	c.VerifyIdentity(bg)
	good := api.Sign(newKey(), ts.Address.Fingerprint, http.MethodPost, "/v1/chunks", api.BodyHash(nil), time.Now()).String()
	cases := []struct {
		name, method, path, auth string
		body                     []byte
		status                   int
	}{
		{"no auth", http.MethodPost, "/v1/chunks", "", []byte("{}"), http.StatusBadRequest},
		{"garbage auth", http.MethodPost, "/v1/chunks", "ts=1, nonce=x, sig=y", []byte("{}"), http.StatusBadRequest},
		{"bad json", http.MethodPost, "/v1/chunks", good, []byte("{"), http.StatusBadRequest},
		{"huge body", http.MethodPost, "/v1/chunks", good, bytes.Repeat([]byte(" "), api.MaxJSONBody+1), http.StatusRequestEntityTooLarge},
		{"bad id", http.MethodPost, "/v1/chunks/!!!/ack", good, nil, http.StatusBadRequest},
		{"unknown route", http.MethodGet, "/v2/whatever", "", nil, http.StatusNotFound},
		{"wrong method", http.MethodGet, "/v1/chunks/AAAA/ack", "", nil, http.StatusMethodNotAllowed},
	}
	for _, tc := range cases {
		if status, body := rawRequest(t, c, tc.method, tc.path, tc.body, tc.auth); status != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, status, body, tc.status)
		}
	}
	if u, _ := ts.Service.Usage(bg); u.Chunks != 0 {
		t.Fatal("a malformed request stored something")
	}
}

func TestClientCorrectsClockSkew(t *testing.T) {
	ts := newTestServer(t, nil)
	c := httpclient.NewClient(ts.Address, httpclient.ClientOptions{Now: func() time.Time { return time.Now().Add(-time.Hour) }})
	defer c.Close()
	body, digest := randomChunk(size64K)
	rk := newKey()
	_, cr := uploadChunk(t, c, body, digest, rk)
	mustDownload(t, c, cr.RecipientIDs[0], rk, body)
}

// TestBehindReverseProxy runs the server in plain (h2c/HTTP/1.1) mode behind
// a TLS-terminating reverse proxy with a web certificate, as an operator on
// port 443 would: the client verifies the identity by challenge, and the
// download key signature stops the proxy from substituting its own key.
func TestBehindReverseProxy(t *testing.T) {
	ts := startTestServer(t, nil, testrelay.Options{Server: httpserver.ServerOptions{Plain: true}})
	backend, _ := url.Parse("http://" + ts.Address.Host)
	proxy := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(backend))
	proxy.EnableHTTP2 = true
	proxy.StartTLS()
	defer proxy.Close()
	roots := x509.NewCertPool()
	roots.AddCert(proxy.Certificate())
	addr := ts.Address
	addr.Host = strings.TrimPrefix(proxy.URL, "https://")
	// Without tls=web, a web certificate is refused even when it is valid:
	// pinned addresses trust no certificate authority.
	pinned := httpclient.NewClient(addr, httpclient.ClientOptions{RootCAs: roots})
	defer pinned.Close()
	if _, err := pinned.Ping(bg); !errors.Is(err, identity.ErrWrongIdentity) {
		t.Fatalf("pinned address accepted a web certificate: %v", err)
	}
	addr.WebTLS = true
	c := httpclient.NewClient(addr, httpclient.ClientOptions{RootCAs: roots})
	defer c.Close()
	body, digest := randomChunk(size64K)
	rk := newKey()
	_, cr := uploadChunk(t, c, body, digest, rk)
	mustDownload(t, c, cr.RecipientIDs[0], rk, body)

	// A proxy holding a web certificate but not the identity key fails.
	addr.Fingerprint[0] ^= 1
	bad := httpclient.NewClient(addr, httpclient.ClientOptions{RootCAs: roots})
	defer bad.Close()
	if _, err := bad.Ping(bg); err == nil {
		t.Fatal("a server without the pinned key passed the identity challenge")
	}
	// Without trust in the web certificate, nothing is sent.
	addr.Fingerprint[0] ^= 1
	untrusted := httpclient.NewClient(addr, httpclient.ClientOptions{RootCAs: x509.NewCertPool()})
	defer untrusted.Close()
	if _, err := untrusted.Ping(bg); err == nil {
		t.Fatal("an untrusted web certificate was accepted")
	}
}

func newRawRequest(c *httpclient.Client, method, path string, body []byte) (*http.Request, error) {
	return http.NewRequestWithContext(bg, method, rawBase(c)+path, bytes.NewReader(body))
}
