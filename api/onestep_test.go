package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/xftp/xftp/server"
)

// PUT /v1/chunks creates a chunk and stores its body in one request.
func TestCreateUploaded(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.client()
	body, digest := randomChunk(size64K)
	r1, r2 := newKey(), newKey()
	snd := newKey()
	cr, err := c.CreateUploaded(bg, snd, size64K, digest, pubs(r1, r2), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(cr.RecipientIDs) != 2 || cr.ExpiresAt.Before(time.Now().Add(time.Hour)) {
		t.Fatalf("created: %+v", cr)
	}
	mustDownload(t, c, cr.RecipientIDs[0], r1, body)
	mustDownload(t, c, cr.RecipientIDs[1], r2, body)
	st, err := c.Status(bg, cr.SenderID, snd)
	if err != nil || !st.Uploaded || st.RecipientIDs != 2 {
		t.Fatalf("status: %+v, %v", st, err)
	}
	// The usual upload of the same chunk is a no-op, as for any committed chunk.
	if err := c.Upload(bg, cr.SenderID, snd, bytes.NewReader(body), size64K); err != nil {
		t.Fatalf("upload after create-and-upload: %v", err)
	}
	assertNoBodies(t, ts, 1)
	if u, _ := ts.svc.Usage(bg); u.Chunks != 1 || u.Bytes != size64K {
		t.Fatalf("usage: %+v", u)
	}
	if err := c.Delete(bg, cr.SenderID, snd); err != nil {
		t.Fatal(err)
	}
	assertNoBodies(t, ts, 0)
}

// A refused create-and-upload leaves no record, no body and no quota used.
func TestCreateUploadedRefusedLeavesNothing(t *testing.T) {
	ts := newTestServer(t, func(c *server.Config) { c.Quota = 2 * size64K })
	c := ts.client()
	body, digest := randomChunk(size64K)
	wrong := append([]byte(nil), body...)
	wrong[100] ^= 1
	for _, tc := range []struct {
		name string
		size int64
		body []byte
		code string
	}{
		{"wrong digest", size64K, wrong, CodeDigest},
		{"short body", size64K, body[:size64K-1], CodeSize},
		{"not a chunk size", size64K - 1, body[:size64K-1], CodeSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.CreateUploaded(bg, newKey(), tc.size, digest, pubs(newKey()), bytes.NewReader(tc.body))
			wantCode(t, err, tc.code)
		})
	}
	// A body that ends early (the request's length says more): SIZE.
	_, err := c.CreateUploaded(bg, newKey(), size64K, digest, pubs(newKey()), io.LimitReader(bytes.NewReader(body), 1000))
	if err == nil {
		t.Fatal("a body shorter than its length was accepted")
	}
	assertNoBodies(t, ts, 0)
	if u, _ := ts.svc.Usage(bg); u.Chunks != 0 || u.Bytes != 0 {
		t.Fatalf("usage after refused uploads: %+v", u)
	}
	// Quota: two fit, the third is refused before its body is stored.
	for i := 0; i < 2; i++ {
		if _, err := c.CreateUploaded(bg, newKey(), size64K, digest, pubs(newKey()), bytes.NewReader(body)); err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.CreateUploaded(bg, newKey(), size64K, digest, pubs(newKey()), bytes.NewReader(body))
	wantCode(t, err, CodeQuota)
	assertNoBodies(t, ts, 2)
}

// The signature covers the Xftp-Create header: changing it after signing,
// or sending it without one, is refused; a replayed request is refused.
func TestCreateUploadedSignature(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.client()
	if _, err := c.VerifyIdentity(bg); err != nil {
		t.Fatal(err)
	}
	body, digest := randomChunk(size64K)
	snd := newKey()
	createJSON := func(rcpt ...[]byte) []byte {
		req := CreateRequest{SenderKey: B64(pubs(snd)[0]), Size: size64K, Digest: digest[:]}
		for _, k := range rcpt {
			req.RecipientKeys = append(req.RecipientKeys, k)
		}
		js, _ := json.Marshal(req)
		return js
	}
	signed := createJSON(pubs(newKey())[0])
	other := createJSON(pubs(newKey())[0])
	put := func(header []byte, auth string) int {
		req, _ := http.NewRequestWithContext(bg, http.MethodPut, c.base+"/v1/chunks", bytes.NewReader(body))
		req.ContentLength = size64K
		if header != nil {
			req.Header.Set(HeaderCreate, enc.EncodeToString(header))
		}
		req.Header.Set(HeaderAuth, auth)
		resp, err := c.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	auth := Sign(snd, ts.addr.Fingerprint, http.MethodPut, "/v1/chunks", BodyHash(signed), time.Now()).String()
	if got := put(other, auth); got != http.StatusForbidden {
		t.Fatalf("a changed create header: %d, want 403", got)
	}
	if got := put(nil, auth); got != http.StatusBadRequest {
		t.Fatalf("no create header: %d, want 400", got)
	}
	// Signed as a POST create: not valid for PUT.
	post := Sign(snd, ts.addr.Fingerprint, http.MethodPost, "/v1/chunks", BodyHash(signed), time.Now()).String()
	if got := put(signed, post); got != http.StatusForbidden {
		t.Fatalf("a create signature on PUT: %d, want 403", got)
	}
	if got := put(signed, auth); got != http.StatusOK {
		t.Fatalf("the signed request: %d", got)
	}
	if got := put(signed, auth); got != http.StatusForbidden {
		t.Fatalf("the same request replayed: %d, want 403", got)
	}
	assertNoBodies(t, ts, 1)
}

// A server without PUT /v1/chunks answers 405; the client says so with
// ErrOneStep, remembers it, and the two-step path still works. Too many
// recipients for the header also give ErrOneStep, without a request.
func TestCreateUploadedFallback(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.client()
	body, digest := randomChunk(size64K)
	many := make([][]byte, 300)
	for i := range many {
		many[i] = pubs(newKey())[0]
	}
	var keys = pubs()
	for _, k := range many {
		keys = append(keys, k)
	}
	if _, err := c.CreateUploaded(bg, newKey(), size64K, digest, keys, bytes.NewReader(body)); !errors.Is(err, ErrOneStep) {
		t.Fatalf("300 recipient keys: %v, want ErrOneStep", err)
	}
	if c.noOneStep.Load() {
		t.Fatal("a request too large for the header marked the server as lacking PUT /v1/chunks")
	}

	// An older server: no PUT route.
	ots := &testServer{t: t, dir: t.TempDir(), cfg: server.DefaultConfig(), clock: &fakeClock{},
		wrapHandler: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPut && r.URL.Path == "/v1/chunks" {
					w.WriteHeader(http.StatusMethodNotAllowed)
					w.Write([]byte(`{"error":"SYNTAX"}`))
					return
				}
				h.ServeHTTP(w, r)
			})
		}}
	newTestIdentity(ots)
	ots.start("127.0.0.1:0")
	t.Cleanup(ots.stop)
	c = ots.client()
	if _, err := c.CreateUploaded(bg, newKey(), size64K, digest, pubs(newKey()), bytes.NewReader(body)); !errors.Is(err, ErrOneStep) {
		t.Fatalf("a server without PUT /v1/chunks: %v, want ErrOneStep", err)
	}
	if !c.noOneStep.Load() {
		t.Fatal("the 405 was not remembered")
	}
	rk := newKey()
	_, cr := uploadChunk(t, c, body, digest, rk)
	mustDownload(t, c, cr.RecipientIDs[0], rk, body)
}
