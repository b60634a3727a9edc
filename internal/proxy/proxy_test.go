package proxy

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/api/httpclient"
	"github.com/xftp/xftp/identity"
	"github.com/xftp/xftp/internal/onion"
)

func newForwarder(t *testing.T, o Options) (*Forwarder, *identity.Identity) {
	t.Helper()
	id, _, err := identity.LoadOrCreate(filepath.Join(t.TempDir(), "id.pem"))
	if err != nil {
		t.Fatal(err)
	}
	o.Identity = id
	f, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return f, id
}

func post(h http.Handler, body []byte) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, api.ProxyPath, bytes.NewReader(body))
	r.RemoteAddr = "192.0.2.1:1234"
	h.ServeHTTP(w, r)
	return w
}

func code(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var er api.ErrorResponse
	json.Unmarshal(w.Body.Bytes(), &er)
	return er.Error
}

func TestProxyKeyIsSignedByTheIdentity(t *testing.T) {
	f, id := newForwarder(t, Options{})
	w := httptest.NewRecorder()
	f.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, api.ProxyKeyPath, nil))
	var pk api.ProxyKeyResponse
	if err := json.Unmarshal(w.Body.Bytes(), &pk); err != nil {
		t.Fatal(err)
	}
	key, err := httpclient.VerifyProxyKey(&pk, id.Fingerprint())
	if err != nil || !bytes.Equal(key, f.key.PublicKey().Bytes()) {
		t.Fatalf("%v", err)
	}
	other, _ := newForwarder(t, Options{})
	if _, err := httpclient.VerifyProxyKey(&pk, other.self); err == nil {
		t.Fatal("a proxy key verifies for another fingerprint")
	}
	pk.ProxyKey[0] ^= 1
	if _, err := httpclient.VerifyProxyKey(&pk, id.Fingerprint()); err == nil {
		t.Fatal("a changed proxy key verifies")
	}
}

func seal(t *testing.T, f *Forwarder, l onion.Layer) []byte {
	t.Helper()
	rand.Read(l.ResponseKey[:])
	b, err := onion.Seal(f.key.PublicKey().Bytes(), &l)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestProxyRefusals: the proxy's own refusals are plain answers to the
// previous hop, counted, and say nothing of why a layer failed.
func TestProxyRefusals(t *testing.T) {
	stranger, _ := newForwarder(t, Options{})
	strangerAddr := api.Address{Fingerprint: stranger.self, Host: "127.0.0.1:1"}
	allowed, _ := newForwarder(t, Options{})
	f, id := newForwarder(t, Options{Allow: []identity.Fingerprint{allowed.self}})
	h := f.Handler()
	selfAddr := api.Address{Fingerprint: id.Fingerprint(), Host: "127.0.0.1:1"}
	upload := (&onion.Request{Path: "/v1/chunks/AAAA", Auth: "a"}).Marshal()
	for _, c := range []struct {
		name   string
		body   []byte
		status int
		code   string
	}{
		{"garbage", []byte("hello"), 400, api.CodeProxyLayer},
		{"sealed to another proxy", seal(t, stranger, onion.Layer{Kind: onion.KindKey, Next: selfAddr.String()}), 400, api.CodeProxyLayer},
		{"bad next address", seal(t, f, onion.Layer{Kind: onion.KindKey, Next: "http://x"}), 400, api.CodeProxyLayer},
		{"to itself", seal(t, f, onion.Layer{Kind: onion.KindKey, Next: selfAddr.String()}), 403, api.CodeProxyRefused},
		{"not allowed", seal(t, f, onion.Layer{Kind: onion.KindKey, Next: strangerAddr.String()}), 403, api.CodeProxyRefused},
		{"an upload", seal(t, f, onion.Layer{Kind: onion.KindRequest, Next: strangerAddr.String(), Inner: upload}), 403, api.CodeProxyRefused},
		{"too large", make([]byte, onion.MaxLayer+1), 413, api.CodeTooLarge},
	} {
		w := post(h, c.body)
		if w.Code != c.status || code(t, w) != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, w.Code, w.Body, c.status, c.code)
		}
	}
}

func TestProxyRateAndConcurrencyLimits(t *testing.T) {
	f, _ := newForwarder(t, Options{RatePerMinute: 2})
	h := f.Handler()
	for i := 0; i < 2; i++ {
		if w := post(h, []byte("x")); w.Code != 400 {
			t.Fatalf("request %d: %d", i, w.Code)
		}
	}
	w := post(h, []byte("x"))
	if w.Code != http.StatusTooManyRequests || code(t, w) != api.CodeRate || w.Header().Get("Retry-After") == "" {
		t.Fatalf("over the rate: %d %s", w.Code, w.Body)
	}
	// Another source is not limited by the first one.
	r := httptest.NewRequest(http.MethodPost, api.ProxyPath, bytes.NewReader([]byte("x")))
	r.RemoteAddr = "192.0.2.2:1"
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 400 {
		t.Fatalf("another source: %d", w.Code)
	}

	g, _ := newForwarder(t, Options{MaxConcurrent: 1})
	g.sem <- struct{}{} // one request in flight
	w = post(g.Handler(), []byte("x"))
	if w.Code != http.StatusServiceUnavailable || code(t, w) != api.CodeProxyBusy {
		t.Fatalf("over the concurrency cap: %d %s", w.Code, w.Body)
	}
	<-g.sem
}

// TestReplayedLayerIsSealedUnderAnotherKey: the same layer sent twice
// gets two answers sealed under different keys, though the answer is the
// same (here: the next hop is unreachable). With one key per layer the
// two would be the same bytes, and in general their XOR the XOR of the
// plaintexts (issue 20, item 9).
func TestReplayedLayerIsSealedUnderAnotherKey(t *testing.T) {
	stranger, _ := newForwarder(t, Options{})
	f, _ := newForwarder(t, Options{Timeout: 5 * time.Second})
	layer := seal(t, f, onion.Layer{Kind: onion.KindKey, Next: api.Address{Fingerprint: stranger.self, Host: "127.0.0.1:1"}.String()})
	a, b := post(f.Handler(), layer), post(f.Handler(), layer)
	if a.Code != 200 || b.Code != 200 {
		t.Fatalf("answers %d %s, %d %s", a.Code, a.Body, b.Code, b.Body)
	}
	if bytes.Equal(a.Body.Bytes(), b.Body.Bytes()) {
		t.Fatal("a replayed layer got the same sealed answer")
	}
	if len(a.Body.Bytes()) <= onion.AnswerSaltSize || bytes.Equal(a.Body.Bytes()[:onion.AnswerSaltSize], b.Body.Bytes()[:onion.AnswerSaltSize]) {
		t.Fatal("the answers do not start with fresh salts")
	}
}

// TestRouteDepthIsCapped: a route that passes two proxies back and forth
// (a loop: each pass relays the whole answer again) is refused at the
// first proxy once it is deeper than a real route can be; a route of
// onion.MaxHops proxies around the largest request still fits (issue 20,
// item 8).
func TestRouteDepthIsCapped(t *testing.T) {
	a, _ := newForwarder(t, Options{})
	b, _ := newForwarder(t, Options{})
	dest, _ := newForwarder(t, Options{})
	onionOf := func(hops int, req []byte) []byte {
		inner, kind, next := req, onion.KindRequest, api.Address{Fingerprint: dest.self, Host: "127.0.0.1:1"}.String()
		for i := hops - 1; i >= 0; i-- {
			f := []*Forwarder{a, b}[i%2]
			l := onion.Layer{Kind: kind, Next: next, Inner: inner}
			rand.Read(l.ResponseKey[:])
			sealed, err := onion.Seal(f.key.PublicKey().Bytes(), &l)
			if err != nil {
				t.Fatal(err)
			}
			inner, kind, next = sealed, onion.KindRelay, api.Address{Fingerprint: f.self, Host: "127.0.0.1:1"}.String()
		}
		return inner
	}
	largest := (&onion.Request{Path: "/v1/chunks/" + strings.Repeat("A", 86) + "/download", Auth: strings.Repeat("a", 1024),
		Body: make([]byte, onion.MaxRequestBody)}).Marshal()
	if n := len(onionOf(onion.MaxHops, largest)); n > onion.MaxLayer {
		t.Fatalf("a route of %d proxies around the largest request is %d bytes, over %d", onion.MaxHops, n, onion.MaxLayer)
	}
	small := (&onion.Request{Path: "/v1/chunks/AAAA/download", Auth: "a"}).Marshal()
	for hops := 20; hops <= 40; hops += 20 {
		w := post(a.Handler(), onionOf(hops, small))
		if hops > 20 && (w.Code != http.StatusRequestEntityTooLarge || code(t, w) != api.CodeTooLarge) {
			t.Fatalf("a loop of %d hops: %d %s, want 413 TOO_LARGE", hops, w.Code, w.Body)
		}
	}
}

// TestProxyConcurrencyPerSource: one source cannot take every slot.
func TestProxyConcurrencyPerSource(t *testing.T) {
	f, _ := newForwarder(t, Options{MaxConcurrent: 8, MaxConcurrentPerSource: 2})
	f.inflight["192.0.2.1"] = 2 // two requests of that source in flight
	w := post(f.Handler(), []byte("x"))
	if w.Code != http.StatusServiceUnavailable || code(t, w) != api.CodeProxyBusy {
		t.Fatalf("a source over its share: %d %s", w.Code, w.Body)
	}
	r := httptest.NewRequest(http.MethodPost, api.ProxyPath, bytes.NewReader([]byte("x")))
	r.RemoteAddr = "192.0.2.2:1"
	w = httptest.NewRecorder()
	f.Handler().ServeHTTP(w, r)
	if w.Code != http.StatusBadRequest {
		t.Fatalf("another source: %d %s", w.Code, w.Body)
	}
	if len(f.sem) != 0 || f.inflight["192.0.2.2"] != 0 {
		t.Fatalf("slots not given back: %d global, %d for the source", len(f.sem), f.inflight["192.0.2.2"])
	}
}
