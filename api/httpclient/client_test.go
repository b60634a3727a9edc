package httpclient

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/internal/testrelay"
	"github.com/xftp/xftp/server"
)

// Tests of the client's internals against a real relay; the relay's own
// behaviour is tested in api/httpserver.

const size64K = 64 << 10

var bg = context.Background()

func newTestClient(t *testing.T, addr api.Address) *Client {
	c := NewClient(addr, ClientOptions{})
	t.Cleanup(c.Close)
	return c
}

func newKey() ed25519.PrivateKey {
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	return k
}

func pubs(keys ...ed25519.PrivateKey) []ed25519.PublicKey {
	out := make([]ed25519.PublicKey, len(keys))
	for i, k := range keys {
		out[i] = k.Public().(ed25519.PublicKey)
	}
	return out
}

func randomChunk(n int) ([]byte, [32]byte) {
	b := make([]byte, n)
	rand.Read(b)
	return b, sha256.Sum256(b)
}

func uploadChunk(t *testing.T, c *Client, body []byte, digest [32]byte, rcpt ...ed25519.PrivateKey) (ed25519.PrivateKey, *Created) {
	t.Helper()
	snd := newKey()
	cr, err := c.Create(bg, snd, int64(len(body)), digest, pubs(rcpt...))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Upload(bg, cr.SenderID, snd, bytes.NewReader(body), int64(len(body))); err != nil {
		t.Fatal(err)
	}
	return snd, cr
}

func mustDownload(t *testing.T, c *Client, id []byte, key ed25519.PrivateKey, want []byte) {
	t.Helper()
	rc, err := c.Download(bg, id, key, int64(len(want)))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("download: %v (%d bytes, want %d)", err, len(got), len(want))
	}
}

func TestDownloadedBytesShareNothingWithUploaded(t *testing.T) {
	ts := testrelay.Start(t, nil)
	c := newTestClient(t, ts.Address)
	body := bytes.Repeat([]byte("0123456789abcdef"), size64K/16)
	rk := newKey()
	_, cr := uploadChunk(t, c, body, sha256.Sum256(body), rk)
	resp, err := c.send(bg, http.MethodPost, chunkPath(cr.RecipientIDs[0], "/download"), rk,
		[]byte(`{"key":"`+enc.EncodeToString(make([]byte, 32))+`"}`), nil, 0)
	if err == nil {
		resp.Body.Close()
		t.Fatal("an all-zero X25519 key was accepted")
	}
	var raw bytes.Buffer
	rc, err := c.Download(bg, cr.RecipientIDs[0], rk, int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	dr := rc.(*downloadReader)
	tee := io.TeeReader(dr.body.(io.Reader), &raw)
	io.ReadAll(tee)
	rc.Close()
	if bytes.Contains(raw.Bytes(), []byte("0123456789abcdef")) || raw.Len() < len(body) {
		t.Fatal("the bytes on the wire contain the stored chunk")
	}
}

// A server without PUT /v1/chunks answers 405; the client says so with
// ErrOneStep, remembers it, and the two-step path still works. A create
// request with the most recipient keys a request may carry fits.
func TestCreateUploadedFallback(t *testing.T) {
	ts := testrelay.Start(t, nil)
	c := newTestClient(t, ts.Address)
	body, digest := randomChunk(size64K)
	keys := make([]ed25519.PrivateKey, server.DefaultConfig().MaxRecipients)
	for i := range keys {
		keys[i] = newKey()
	}
	cr, err := c.CreateUploaded(bg, newKey(), size64K, digest, pubs(keys...), bytes.NewReader(body))
	if err != nil {
		t.Fatalf("%d recipient keys: %v", len(keys), err)
	}
	mustDownload(t, c, cr.RecipientIDs[len(keys)-1], keys[len(keys)-1], body)

	// An older server: no PUT route.
	ots := testrelay.Start(t, nil)
	ots.Wrap = func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && r.URL.Path == "/v1/chunks" {
				w.WriteHeader(http.StatusMethodNotAllowed)
				w.Write([]byte(`{"error":"SYNTAX"}`))
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	c = newTestClient(t, ots.Address)
	if _, err := c.CreateUploaded(bg, newKey(), size64K, digest, pubs(newKey()), bytes.NewReader(body)); !errors.Is(err, ErrOneStep) {
		t.Fatalf("a server without PUT /v1/chunks: %v, want ErrOneStep", err)
	}
	if !c.noOneStep.Load() {
		t.Fatal("the 405 was not remembered")
	}
	rk := newKey()
	_, cr = uploadChunk(t, c, body, digest, rk)
	mustDownload(t, c, cr.RecipientIDs[0], rk, body)
}
