package httpserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/internal/testenv"
	"github.com/xftp/xftp/server"
	"github.com/xftp/xftp/storage"
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
	if u, _ := ts.Service.Usage(bg); u.Chunks != 1 || u.Bytes != size64K {
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
		{"wrong digest", size64K, wrong, api.CodeDigest},
		{"short body", size64K, body[:size64K-1], api.CodeSize},
		{"not a chunk size", size64K - 1, body[:size64K-1], api.CodeSize},
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
	if u, _ := ts.Service.Usage(bg); u.Chunks != 0 || u.Bytes != 0 {
		t.Fatalf("usage after refused uploads: %+v", u)
	}
	// Quota: two fit, the third is refused before its body is stored.
	for i := 0; i < 2; i++ {
		if _, err := c.CreateUploaded(bg, newKey(), size64K, digest, pubs(newKey()), bytes.NewReader(body)); err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.CreateUploaded(bg, newKey(), size64K, digest, pubs(newKey()), bytes.NewReader(body))
	wantCode(t, err, api.CodeQuota)
	assertNoBodies(t, ts, 2)
}

// The signature covers the framed create request: changing it after
// signing, or framing it wrongly, is refused; a replayed request is refused.
func TestCreateUploadedSignature(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.client()
	if _, err := c.VerifyIdentity(bg); err != nil {
		t.Fatal(err)
	}
	body, digest := randomChunk(size64K)
	snd := newKey()
	createJSON := func(rcpt ...[]byte) []byte {
		req := api.CreateRequest{SenderKey: api.B64(pubs(snd)[0]), Size: size64K, Digest: digest[:]}
		for _, k := range rcpt {
			req.RecipientKeys = append(req.RecipientKeys, k)
		}
		js, _ := json.Marshal(req)
		return js
	}
	signed := createJSON(pubs(newKey())[0])
	other := createJSON(pubs(newKey())[0])
	put := func(create []byte, auth string) int {
		b := append(api.AppendCreatePrefix(nil, create), body...)
		switch {
		case create == nil:
			b = []byte{0, 0, 1} // too short for its own length
		case len(create) == 0:
			b = append([]byte{0, 1, 0, 1}, body...) // a length over 64 KiB
		}
		req, _ := http.NewRequestWithContext(bg, http.MethodPut, rawBase(c)+"/v1/chunks", bytes.NewReader(b))
		req.ContentLength = int64(len(b))
		req.Header.Set(api.HeaderAuth, auth)
		resp, err := rawHTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	auth := api.Sign(snd, ts.Address.Fingerprint, http.MethodPut, "/v1/chunks", api.BodyHash(signed), time.Now()).String()
	if got := put(other, auth); got != http.StatusForbidden {
		t.Fatalf("a changed create request: %d, want 403", got)
	}
	if got := put(nil, auth); got != http.StatusBadRequest {
		t.Fatalf("a body too short for its create request: %d, want 400", got)
	}
	if got := put([]byte{}, auth); got != http.StatusRequestEntityTooLarge {
		t.Fatalf("a create request over 64 KiB: %d, want 413", got)
	}
	// Signed as a POST create: not valid for PUT.
	post := api.Sign(snd, ts.Address.Fingerprint, http.MethodPost, "/v1/chunks", api.BodyHash(signed), time.Now()).String()
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

// A create-and-upload that fails after its record was written (a full disk,
// a client that goes away mid-body) removes the record again: no quota held,
// no body left, the IDs unknown.
func TestCreateUploadedFailureRemovesRecord(t *testing.T) {
	fs := &fullStore{errno: syscall.ENOSPC}
	ts := newWrappedServer(t, func(s storage.Store) storage.Store { fs.Store = s; return fs })
	c := ts.client()
	body, digest := randomChunk(256 << 10)
	empty := func(what string) {
		t.Helper()
		// The server cleans up after it answered or saw the client go:
		// wait for it, within a bound.
		var u storage.Usage
		testenv.Eventually(t, 10*time.Second, func() bool {
			u, _ = ts.Service.Usage(bg)
			return u.Chunks == 0 && u.Bytes == 0
		}, "%s: usage left, want nothing", what)
		assertNoBodies(t, ts, 0)
	}

	fs.on.Store(true)
	_, err := c.CreateUploaded(bg, newKey(), int64(len(body)), digest, pubs(newKey()), bytes.NewReader(body))
	wantCode(t, err, api.CodeFull)
	empty("after a full disk")
	fs.on.Store(false)

	// The client cancels halfway through the body.
	ctx, cancel := context.WithCancel(bg)
	half := io.MultiReader(bytes.NewReader(body[:len(body)/2]), readerFunc(func([]byte) (int, error) {
		cancel()
		<-ctx.Done()
		return 0, ctx.Err()
	}))
	if _, err := c.CreateUploaded(ctx, newKey(), int64(len(body)), digest, pubs(newKey()), half); err == nil {
		t.Fatal("a cancelled upload succeeded")
	}
	empty("after a cancelled upload")

	// And the server still works.
	rk := newKey()
	cr, err := c.CreateUploaded(bg, newKey(), int64(len(body)), digest, pubs(rk), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	mustDownload(t, c, cr.RecipientIDs[0], rk, body)
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// A create retried after its answer was lost (same sender key, same
// chunk) gets the chunk the first attempt made: no second record, no
// second body, no quota spent twice. The key cannot name another chunk.
func TestCreateRetryIsIdempotent(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.client()
	body, digest := randomChunk(size64K)
	r1, r2 := newKey(), newKey()
	snd := newKey()
	first, err := c.CreateUploaded(bg, snd, size64K, digest, pubs(r1, r2), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.CreateUploaded(bg, snd, size64K, digest, pubs(r1, r2), bytes.NewReader(body))
	if err != nil {
		t.Fatalf("the retried create and upload: %v", err)
	}
	if !bytes.Equal(again.SenderID, first.SenderID) || !bytes.Equal(again.RecipientIDs[1], first.RecipientIDs[1]) {
		t.Fatal("the retry made another chunk")
	}
	post, err := c.Create(bg, snd, size64K, digest, pubs(r1, r2))
	if err != nil || !bytes.Equal(post.SenderID, first.SenderID) {
		t.Fatalf("the retried two-step create: %+v, %v", post, err)
	}
	assertNoBodies(t, ts, 1)
	if u, _ := ts.Service.Usage(bg); u.Chunks != 1 || u.Bytes != size64K {
		t.Fatalf("usage after retries: %+v", u)
	}
	mustDownload(t, c, first.RecipientIDs[1], r2, body)

	// A retry of an uploaded chunk does not read its body: other bytes
	// of the same length are not even looked at.
	garbage := make([]byte, size64K)
	if _, err := c.CreateUploaded(bg, snd, size64K, digest, pubs(r1, r2), bytes.NewReader(garbage)); err != nil {
		t.Fatalf("a retry whose body is not read: %v", err)
	}
	mustDownload(t, c, first.RecipientIDs[0], r1, body)

	// The same sender key for another chunk: KEY_IN_USE (409).
	other, otherDigest := randomChunk(size64K)
	_, err = c.CreateUploaded(bg, snd, size64K, otherDigest, pubs(r1, r2), bytes.NewReader(other))
	wantCode(t, err, api.CodeKeyInUse)
	_, err = c.CreateUploaded(bg, snd, size64K, digest, pubs(r1), bytes.NewReader(body))
	wantCode(t, err, api.CodeKeyInUse)

	// Once the chunk is deleted the key is free again.
	if err := c.Delete(bg, first.SenderID, snd); err != nil {
		t.Fatal(err)
	}
	fresh, err := c.CreateUploaded(bg, snd, size64K, digest, pubs(r1, r2), bytes.NewReader(body))
	if err != nil || bytes.Equal(fresh.SenderID, first.SenderID) {
		t.Fatalf("create after delete: %+v, %v", fresh, err)
	}

	// A chunk created but never uploaded (two steps, the upload lost) is
	// completed by a one-request retry with the same key.
	snd2 := newKey()
	cr, err := c.Create(bg, snd2, size64K, digest, pubs(r1))
	if err != nil {
		t.Fatal(err)
	}
	done, err := c.CreateUploaded(bg, snd2, size64K, digest, pubs(r1), bytes.NewReader(body))
	if err != nil || !bytes.Equal(done.SenderID, cr.SenderID) {
		t.Fatalf("completing a created chunk: %+v, %v", done, err)
	}
	mustDownload(t, c, cr.RecipientIDs[0], r1, body)
	assertNoBodies(t, ts, 2)

	// An expired chunk not swept yet does not hold its key: the same
	// request makes a new chunk (the client learns the server's clock).
	ts.clock.Advance(ts.cfg.Expiry + time.Minute)
	_, err = c.CreateUploaded(bg, snd2, size64K, digest, pubs(r1), bytes.NewReader(body))
	wantCode(t, err, api.CodeClock) // an upload is not re-sent at once (§4.3)
	later, err := c.CreateUploaded(bg, snd2, size64K, digest, pubs(r1), bytes.NewReader(body))
	if err != nil || bytes.Equal(later.SenderID, cr.SenderID) {
		t.Fatalf("create with the key of an expired chunk: %+v, %v", later, err)
	}
	if _, err := download(c, cr.RecipientIDs[0], r1, size64K); err == nil {
		t.Fatal("the expired chunk is still served")
	}
}

// A retry at full quota still finds its chunk: nothing new is reserved.
func TestCreateRetryAtFullQuota(t *testing.T) {
	ts := newTestServer(t, func(c *server.Config) { c.Quota = size64K })
	c := ts.client()
	body, digest := randomChunk(size64K)
	snd, rk := newKey(), newKey()
	first, err := c.CreateUploaded(bg, snd, size64K, digest, pubs(rk), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.CreateUploaded(bg, snd, size64K, digest, pubs(rk), bytes.NewReader(body))
	if err != nil || !bytes.Equal(again.SenderID, first.SenderID) {
		t.Fatalf("a retry with the quota spent: %+v, %v", again, err)
	}
	_, err = c.CreateUploaded(bg, newKey(), size64K, digest, pubs(rk), bytes.NewReader(body))
	wantCode(t, err, api.CodeQuota)
}

// slowPutStore holds the first Put's body until released and reports when
// that Put has started and when it has returned.
type slowPutStore struct {
	storage.Store
	first   atomic.Bool
	started chan struct{}
	release chan struct{}
	done    chan error
}

func (s *slowPutStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if !s.first.CompareAndSwap(false, true) {
		return s.Store.Put(ctx, key, r, size)
	}
	close(s.started)
	err := s.Store.Put(ctx, key, readerFunc(func(p []byte) (int, error) {
		select {
		case <-s.release:
			return 0, errors.New("the first attempt's connection broke")
		default:
		}
		return r.Read(p)
	}), size)
	s.done <- err
	return err
}

// A first attempt still streaming when its retry completes the chunk, and
// failing afterwards, must not take the chunk with it.
func TestCreateRetryOutlivesFailingFirstAttempt(t *testing.T) {
	sp := &slowPutStore{started: make(chan struct{}), release: make(chan struct{}), done: make(chan error, 1)}
	ts := newWrappedServer(t, func(s storage.Store) storage.Store { sp.Store = s; return sp })
	// finished counts the one-request uploads whose handlers have returned.
	var finished atomic.Int32
	ts.Wrap = func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && r.URL.Path == "/v1/chunks" {
				defer finished.Add(1)
			}
			next.ServeHTTP(w, r)
		})
	}
	c := ts.client()
	body, digest := randomChunk(256 << 10)
	snd, rk := newKey(), newKey()

	// The first attempt sends half its body and then stalls, as on a
	// connection that died without a word.
	stalled := make(chan struct{})
	firstBody := io.MultiReader(bytes.NewReader(body[:len(body)/2]), readerFunc(func([]byte) (int, error) {
		<-stalled
		return 0, io.ErrUnexpectedEOF
	}))
	firstErr := make(chan error, 1)
	go func() {
		_, err := c.CreateUploaded(bg, snd, int64(len(body)), digest, pubs(rk), firstBody)
		firstErr <- err
	}()
	// Wait until the server stores the first attempt's body: its record
	// alone is not enough, the retry's Put could then come first and be
	// taken for the held one (1 run in 10 failed so).
	select {
	case <-sp.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the first attempt's body never reached the store")
	}
	// The retry, on another connection, completes the same chunk.
	c2 := ts.client()
	cr, err := c2.CreateUploaded(bg, snd, int64(len(body)), digest, pubs(rk), bytes.NewReader(body))
	if err != nil {
		t.Fatalf("the retry: %v", err)
	}
	// Now the first attempt fails, and its handler cleans up.
	close(sp.release)
	close(stalled)
	if err := <-sp.done; err == nil {
		t.Fatal("the first attempt's body was stored")
	}
	if err := <-firstErr; err == nil {
		t.Fatal("the first attempt succeeded")
	}
	// Its cleanup runs after its Put returned, in its handler: once both
	// attempts' handlers have returned, the chunk must still be there.
	testenv.Eventually(t, 10*time.Second, func() bool { return finished.Load() == 2 }, "the first attempt's handler did not return")
	mustDownload(t, c2, cr.RecipientIDs[0], rk, body)
}
