package httpserver

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/api/httpclient"
	"github.com/xftp/xftp/identity"
	"github.com/xftp/xftp/server"
	"github.com/xftp/xftp/storage"
	"github.com/xftp/xftp/storage/disk"
	"github.com/xftp/xftp/storage/embedded"
)

// testServer is a real xftpd core on a loopback TLS HTTP/2 listener.
type testServer struct {
	t       *testing.T
	dir     string
	id      *identity.Identity
	cfg     server.Config
	svc     *server.Service
	records *embedded.Records
	store   *disk.Store
	srv     *http.Server
	ln      net.Listener
	addr    api.Address
	clock   *fakeClock
	opts    ServerOptions
	// wrapStore, if set, wraps the body store (fault injection).
	wrapStore func(storage.Store) storage.Store
	// wrapHandler, if set, wraps the HTTP handler (an older server, say).
	wrapHandler func(http.Handler) http.Handler
}

type fakeClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

func newTestServer(t *testing.T, mod func(*server.Config)) *testServer {
	t.Helper()
	cfg := server.DefaultConfig()
	if mod != nil {
		mod(&cfg)
	}
	ts := &testServer{t: t, dir: t.TempDir(), cfg: cfg, clock: &fakeClock{}}
	var err error
	ts.id, _, err = identity.LoadOrCreate(filepath.Join(ts.dir, "identity.pem"))
	if err != nil {
		t.Fatal(err)
	}
	ts.start("127.0.0.1:0")
	t.Cleanup(ts.stop)
	return ts
}

// newWrappedServer is newTestServer (default configuration) with the body
// store wrapped, for fault injection.
func newWrappedServer(t *testing.T, wrap func(storage.Store) storage.Store) *testServer {
	t.Helper()
	ts := &testServer{t: t, dir: t.TempDir(), cfg: server.DefaultConfig(), clock: &fakeClock{}, wrapStore: wrap}
	newTestIdentity(ts)
	ts.start("127.0.0.1:0")
	t.Cleanup(ts.stop)
	return ts
}

func (ts *testServer) start(listen string) {
	t := ts.t
	var err error
	if ts.store, err = disk.Open(filepath.Join(ts.dir, "chunks")); err != nil {
		t.Fatal(err)
	}
	if ts.records, err = embedded.Open(filepath.Join(ts.dir, "records.db"), time.Second); err != nil {
		t.Fatal(err)
	}
	var store storage.Store = ts.store
	if ts.wrapStore != nil {
		store = ts.wrapStore(store)
	}
	ts.svc, err = server.New(ts.cfg, server.Options{Identity: ts.id, Store: store, Records: ts.records, Now: ts.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandler(ts.svc, HandlerOptions{UploadTimeout: 10 * time.Second})
	var routes http.Handler = h.Routes()
	if ts.wrapHandler != nil {
		routes = ts.wrapHandler(routes)
	}
	ts.srv, err = NewHTTPServer(routes, ts.id, ts.opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		ts.ln, err = net.Listen("tcp", listen)
		if err == nil || i == 50 {
			break
		}
		time.Sleep(100 * time.Millisecond) // the old listener is closing
	}
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = api.Address{Fingerprint: ts.id.Fingerprint(), Host: ts.ln.Addr().String(), Password: ts.cfg.Password}
	ts.ln = LimitListener(ts.ln, DefaultLimits().ConnsPerSource)
	go func() {
		if ts.opts.Plain {
			ts.srv.Serve(ts.ln)
		} else {
			ts.srv.ServeTLS(ts.ln, "", "")
		}
	}()
}

func (ts *testServer) stop() {
	if ts.srv == nil {
		return
	}
	ts.srv.Close()
	ts.records.Close()
	ts.srv = nil
}

// restart stops the server and starts a new one on the same data and port.
func (ts *testServer) restart() {
	host := ts.addr.Host
	ts.stop()
	ts.start(host)
}

func (ts *testServer) client() *httpclient.Client {
	c := httpclient.NewClient(ts.addr, httpclient.ClientOptions{})
	ts.t.Cleanup(c.Close)
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

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var e *api.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("got error %v, want code %s", err, code)
	}
}

var bg = context.Background()

func contextWithCancel() (context.Context, context.CancelFunc) { return context.WithCancel(bg) }

func newTestIdentity(ts *testServer) {
	var err error
	ts.id, _, err = identity.LoadOrCreate(filepath.Join(ts.dir, "identity.pem"))
	if err != nil {
		ts.t.Fatal(err)
	}
}

// rawHTTP sends hand-made requests to test servers, over HTTP/2 with TLS
// 1.3 as a Client does, trusting any certificate.
var rawHTTP = &http.Client{Transport: &http.Transport{
	TLSClientConfig:   &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13, NextProtos: []string{"h2", "http/1.1"}},
	ForceAttemptHTTP2: true,
	Proxy:             nil,
}}

// rawBase is the URL prefix of c's server.
func rawBase(c *httpclient.Client) string { return "https://" + c.Address().Host }

func chunkPath(id []byte, suffix string) string {
	return "/v1/chunks/" + enc.EncodeToString(id) + suffix
}
