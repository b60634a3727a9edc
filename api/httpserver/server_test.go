package httpserver_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/api/httpclient"
	"github.com/xftp/xftp/api/httpserver"
	"github.com/xftp/xftp/identity"
	"github.com/xftp/xftp/internal/testenv"
	"github.com/xftp/xftp/server"
)

const size64K = 64 << 10

// uploadChunk creates and uploads a chunk with the given recipients.
func uploadChunk(t *testing.T, c *httpclient.Client, body []byte, digest [32]byte, rcpt ...ed25519.PrivateKey) (ed25519.PrivateKey, *httpclient.Created) {
	t.Helper()
	snd := newKey()
	cr, err := c.Create(bg, snd, int64(len(body)), digest, pubs(rcpt...))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if err := c.Upload(bg, cr.SenderID, snd, bytes.NewReader(body), int64(len(body))); err != nil {
		t.Fatalf("Upload: %v", err)
	}
	return snd, cr
}

func download(c *httpclient.Client, id []byte, key ed25519.PrivateKey, size int64) ([]byte, error) {
	rc, err := c.Download(bg, id, key, size)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func mustDownload(t *testing.T, c *httpclient.Client, id []byte, key ed25519.PrivateKey, want []byte) {
	t.Helper()
	got, err := download(c, id, key, int64(len(want)))
	if err != nil {
		t.Fatalf("Download: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("downloaded body differs from uploaded body")
	}
}

func TestCreateUploadDownloadOneAndTwoRecipients(t *testing.T) {
	ts := newTestServer(t, nil)
	sender, receiver := ts.client(), ts.client()
	for _, n := range []int{1, 2} {
		var rcpt []ed25519.PrivateKey
		for range n {
			rcpt = append(rcpt, newKey())
		}
		for _, size := range []int{64 << 10, 4 << 20} {
			body, digest := randomChunk(size)
			_, cr := uploadChunk(t, sender, body, digest, rcpt...)
			for i, k := range rcpt {
				mustDownload(t, receiver, cr.RecipientIDs[i], k, body)
				// A second download is sealed anew.
				mustDownload(t, receiver, cr.RecipientIDs[i], k, body)
			}
		}
	}
}

func TestAddRecipients(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.client()
	body, digest := randomChunk(size64K)
	snd, _ := uploadChunk(t, c, body, digest, newKey()) // an unrelated chunk
	snd2 := newKey()
	cr2, err := c.Create(bg, snd2, size64K, digest, pubs(newKey()))
	if err != nil {
		t.Fatal(err)
	}
	more := []ed25519.PrivateKey{newKey(), newKey(), newKey()}
	ids, err := c.AddRecipients(bg, cr2.SenderID, snd2, pubs(more...))
	if err != nil || len(ids) != 3 {
		t.Fatalf("AddRecipients: %v", err)
	}
	if err := c.Upload(bg, cr2.SenderID, snd2, bytes.NewReader(body), size64K); err != nil {
		t.Fatal(err)
	}
	for i, k := range more {
		mustDownload(t, c, ids[i], k, body)
	}
	// A recipient key cannot add recipients.
	_, err = c.AddRecipients(bg, ids[0], more[0], pubs(newKey()))
	wantCode(t, err, api.CodeAuth)
	// Nor can another chunk's sender key.
	_, err = c.AddRecipients(bg, cr2.SenderID, snd, pubs(newKey()))
	wantCode(t, err, api.CodeAuth)
	// Too many keys in one request.
	many := make([]ed25519.PrivateKey, server.DefaultConfig().MaxRecipients+1)
	for i := range many {
		many[i] = newKey()
	}
	_, err = c.AddRecipients(bg, cr2.SenderID, snd2, pubs(many...))
	wantCode(t, err, api.CodeSyntax)
}

func TestWrongDigestOnUpload(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.client()
	body, digest := randomChunk(size64K)
	snd := newKey()
	rk := newKey()
	cr, err := c.Create(bg, snd, size64K, digest, pubs(rk))
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(body)
	bad[100] ^= 1
	err = c.Upload(bg, cr.SenderID, snd, bytes.NewReader(bad), size64K)
	wantCode(t, err, api.CodeDigest)
	_, err = download(c, cr.RecipientIDs[0], rk, size64K)
	wantCode(t, err, api.CodeNoChunk)
	assertNoBodies(t, ts, 0)
	// The right body is then accepted.
	if err := c.Upload(bg, cr.SenderID, snd, bytes.NewReader(body), size64K); err != nil {
		t.Fatal(err)
	}
	mustDownload(t, c, cr.RecipientIDs[0], rk, body)
}

func TestWrongLengthUpload(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.client()
	body, digest := randomChunk(size64K)
	snd := newKey()
	cr, err := c.Create(bg, snd, size64K, digest, pubs(newKey()))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Upload(bg, cr.SenderID, snd, bytes.NewReader(body[:1000]), 1000)
	wantCode(t, err, api.CodeSize)
	// A body shorter than its declared length.
	err = c.Upload(bg, cr.SenderID, snd, io.LimitReader(bytes.NewReader(body), 1000), size64K)
	if err == nil {
		t.Fatal("truncated upload succeeded")
	}
	assertNoBodies(t, ts, 0)
}

// assertNoBodies checks the number of stored bodies and that no temporary
// file was left.
func assertNoBodies(t *testing.T, ts *testServer, want int) {
	t.Helper()
	n := 0
	filepath.Walk(filepath.Join(ts.Dir, "chunks"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			if strings.HasPrefix(fi.Name(), ".tmp") {
				t.Errorf("temporary file left: %s", fi.Name())
			}
			n++
		}
		return nil
	})
	if n != want {
		t.Fatalf("%d bodies stored, want %d", n, want)
	}
}

// A stored body is the chunk followed by its CRC-32C (server/body.go);
// bodies stored before the trailer existed are the chunk alone and checked
// against its SHA-256 digest. Either way a damaged body is never served
// as good, and an intact one is.
func TestCorruptStoredChunkIsNotServed(t *testing.T) {
	const size = 256 << 10
	for _, tc := range []struct {
		name   string
		damage func(b []byte) []byte
		good   bool
	}{
		{"intact", func(b []byte) []byte { return b }, true},
		{"a flipped body bit", func(b []byte) []byte { b[len(b)/2] ^= 1; return b }, false},
		{"a flipped last body bit", func(b []byte) []byte { b[size-1] ^= 0x80; return b }, false},
		{"a flipped trailer bit", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, false},
		{"no trailer: stored before trailers", func(b []byte) []byte { return b[:size] }, true},
		{"no trailer and a flipped bit", func(b []byte) []byte { b = b[:size]; b[7] ^= 4; return b }, false},
		{"truncated trailer", func(b []byte) []byte { return b[:len(b)-1] }, false},
		{"a byte too many", func(b []byte) []byte { return append(b, 0) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, nil)
			c := ts.client()
			body, digest := randomChunk(size)
			rk := newKey()
			_, cr := uploadChunk(t, c, body, digest, rk)
			files := 0
			filepath.Walk(filepath.Join(ts.Dir, "chunks"), func(p string, fi os.FileInfo, err error) error {
				if err != nil || fi.IsDir() {
					return nil
				}
				files++
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				if len(b) != size+4 || !bytes.Equal(b[:size], body) ||
					binary.BigEndian.Uint32(b[size:]) != crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)) {
					t.Fatalf("stored body: %d bytes, want the chunk and its CRC-32C", len(b))
				}
				if err := os.WriteFile(p, tc.damage(b), 0o600); err != nil {
					t.Fatal(err)
				}
				return nil
			})
			if files != 1 {
				t.Fatalf("%d stored bodies, want 1", files)
			}
			got, err := download(c, cr.RecipientIDs[0], rk, size)
			switch {
			case tc.good && (err != nil || !bytes.Equal(got, body)):
				t.Fatalf("an intact body was not served: %v", err)
			case !tc.good && err == nil:
				t.Fatal("a corrupt chunk was served as good")
			}
		})
	}
}

func TestDeleteThenAuth(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.client()
	body, digest := randomChunk(size64K)
	rk := newKey()
	snd, cr := uploadChunk(t, c, body, digest, rk)
	if err := c.Delete(bg, cr.SenderID, snd); err != nil {
		t.Fatal(err)
	}
	_, err := download(c, cr.RecipientIDs[0], rk, size64K)
	wantCode(t, err, api.CodeAuth)
	wantCode(t, c.Delete(bg, cr.SenderID, snd), api.CodeAuth)
	assertNoBodies(t, ts, 0)
	if u, _ := ts.Service.Usage(bg); u.Bytes != 0 || u.Chunks != 0 {
		t.Fatalf("usage after delete: %+v", u)
	}
}

func TestAckThenAuth(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.client()
	body, digest := randomChunk(size64K)
	r1, r2 := newKey(), newKey()
	_, cr := uploadChunk(t, c, body, digest, r1, r2)
	mustDownload(t, c, cr.RecipientIDs[0], r1, body)
	if err := c.Ack(bg, cr.RecipientIDs[0], r1); err != nil {
		t.Fatal(err)
	}
	_, err := download(c, cr.RecipientIDs[0], r1, size64K)
	wantCode(t, err, api.CodeAuth)
	wantCode(t, c.Ack(bg, cr.RecipientIDs[0], r1), api.CodeAuth)
	// The other recipient is unaffected.
	mustDownload(t, c, cr.RecipientIDs[1], r2, body)
}

func TestWrongChunkSize(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.client()
	for _, n := range []int64{1, size64K - 1, size64K + 1, 8 << 20} {
		_, err := c.Create(bg, newKey(), n, [32]byte{}, pubs(newKey()))
		wantCode(t, err, api.CodeSize)
	}
}

func TestExpiry(t *testing.T) {
	ts := newTestServer(t, func(c *server.Config) { c.Expiry = time.Hour })
	c := ts.client()
	body, digest := randomChunk(size64K)
	rk := newKey()
	snd, cr := uploadChunk(t, c, body, digest, rk)
	ts.clock.Advance(59 * time.Minute)
	mustDownload(t, c, cr.RecipientIDs[0], rk, body)
	ts.clock.Advance(2 * time.Minute)
	// Expired but not yet swept: already refused. The client's clock
	// follows the server's through CLOCK answers.
	_, err := download(c, cr.RecipientIDs[0], rk, size64K)
	wantCode(t, err, api.CodeAuth)
	n, err := ts.Service.SweepExpired(bg)
	if err != nil || n != 1 {
		t.Fatalf("SweepExpired = %d, %v", n, err)
	}
	assertNoBodies(t, ts, 0)
	wantCode(t, c.Delete(bg, cr.SenderID, snd), api.CodeAuth)
}

func TestExpirySweptAtStartup(t *testing.T) {
	ts := newTestServer(t, func(c *server.Config) { c.Expiry = time.Hour })
	c := ts.client()
	body, digest := randomChunk(size64K)
	uploadChunk(t, c, body, digest, newKey())
	ts.clock.Advance(2 * time.Hour)
	ts.Restart()
	ctx, cancel := contextWithCancel()
	done := make(chan struct{})
	go func() { ts.Service.Run(ctx); close(done) }()
	testenv.Eventually(t, 10*time.Second, func() bool {
		u, _ := ts.Service.Usage(bg)
		return u.Chunks == 0
	}, "expired chunk survived a restart")
	cancel()
	<-done
	assertNoBodies(t, ts, 0)
}

func TestQuota(t *testing.T) {
	ts := newTestServer(t, func(c *server.Config) { c.Quota = 2 * size64K })
	c := ts.client()
	body, digest := randomChunk(size64K)
	snd, cr := uploadChunk(t, c, body, digest, newKey())
	// Created but not uploaded counts too.
	if _, err := c.Create(bg, newKey(), size64K, digest, pubs(newKey())); err != nil {
		t.Fatal(err)
	}
	_, err := c.Create(bg, newKey(), size64K, digest, pubs(newKey()))
	wantCode(t, err, api.CodeQuota)
	if err := c.Delete(bg, cr.SenderID, snd); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(bg, newKey(), size64K, digest, pubs(newKey())); err != nil {
		t.Fatalf("create after delete freed quota: %v", err)
	}
}

func TestRestartKeepsState(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.client()
	body, digest := randomChunk(size64K)
	rk := newKey()
	_, cr := uploadChunk(t, c, body, digest, rk)
	fp := ts.Identity.Fingerprint()
	ts.Restart()
	id, created, err := identity.LoadOrCreate(filepath.Join(ts.Dir, "identity.pem"))
	if err != nil || created || id.Fingerprint() != fp {
		t.Fatalf("identity changed across restart (created %v, err %v)", created, err)
	}
	mustDownload(t, ts.client(), cr.RecipientIDs[0], rk, body)
}

func TestUploadPasswordMatrix(t *testing.T) {
	cases := []struct {
		name, server, client string
		allowNew             bool
		want                 string // "" = success
	}{
		{"none given", "secret", "", true, api.CodeAuth},
		{"wrong", "secret", "guess", true, api.CodeAuth},
		{"disabled", "secret", "secret", false, api.CodeProhibited},
		{"right", "secret", "secret", true, ""},
		{"any on open server", "", "whatever", true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, func(c *server.Config) { c.Password = tc.server; c.AllowNew = tc.allowNew })
			addr := ts.Address
			addr.Password = tc.client
			c := httpclient.NewClient(addr, httpclient.ClientOptions{})
			defer c.Close()
			_, err := c.Create(bg, newKey(), size64K, [32]byte{}, pubs(newKey()))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantCode(t, err, tc.want)
		})
	}
}

func TestReuploadIgnored(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.client()
	body, digest := randomChunk(size64K)
	rk := newKey()
	snd, cr := uploadChunk(t, c, body, digest, rk)
	other, _ := randomChunk(size64K)
	if err := c.Upload(bg, cr.SenderID, snd, bytes.NewReader(other), size64K); err != nil {
		t.Fatalf("re-upload: %v", err)
	}
	mustDownload(t, c, cr.RecipientIDs[0], rk, body)
}

func TestWrongFingerprintFailsBeforeAnyCommand(t *testing.T) {
	ts := newTestServer(t, nil)
	addr := ts.Address
	addr.Fingerprint[0] ^= 1
	c := httpclient.NewClient(addr, httpclient.ClientOptions{})
	defer c.Close()
	_, err := c.Create(bg, newKey(), size64K, [32]byte{}, pubs(newKey()))
	if !errors.Is(err, identity.ErrWrongIdentity) {
		t.Fatalf("got %v, want ErrWrongIdentity", err)
	}
	if u, _ := ts.Service.Usage(bg); u.Chunks != 0 {
		t.Fatal("a command reached the server despite the wrong fingerprint")
	}
}

func TestConcurrentClients(t *testing.T) {
	ts := newTestServer(t, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := httpclient.NewClient(ts.Address, httpclient.ClientOptions{})
			defer c.Close()
			body, digest := randomChunk(256 << 10)
			snd := newKey()
			rk := newKey()
			cr, err := c.Create(bg, snd, int64(len(body)), digest, pubs(rk))
			if err == nil {
				err = c.Upload(bg, cr.SenderID, snd, bytes.NewReader(body), int64(len(body)))
			}
			if err == nil {
				var got []byte
				got, err = download(c, cr.RecipientIDs[0], rk, int64(len(body)))
				if err == nil && !bytes.Equal(got, body) {
					err = errors.New("body differs")
				}
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestObserveReportsRoutesNotIDs(t *testing.T) {
	ts := newTestServer(t, nil)
	var mu sync.Mutex
	var ops []string
	h := httpserver.NewHandler(ts.Service, httpserver.HandlerOptions{Observe: func(op string, status int, d time.Duration) {
		mu.Lock()
		ops = append(ops, fmt.Sprintf("%s %d", op, status))
		mu.Unlock()
	}})
	srv := httptest.NewServer(h.Routes())
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/v1/chunks/"+enc.EncodeToString(make([]byte, 24))+"/ack", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(ops) != 1 || ops[0] != "POST /v1/chunks/{id}/ack 400" {
		t.Fatalf("observed %q", ops)
	}
}
