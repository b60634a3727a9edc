package httpserver_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/api/httpclient"
	"github.com/xftp/xftp/api/httpserver"
	"github.com/xftp/xftp/internal/testrelay"
	"github.com/xftp/xftp/server"
	"github.com/xftp/xftp/storage"
)

// testServer is a relay (internal/testrelay) with a clock the test moves,
// as these tests have always run it: a 10 s upload timeout and xftpd's
// per-source connection cap.
type testServer struct {
	*testrelay.Relay
	t     *testing.T
	cfg   server.Config
	clock *testrelay.Clock
}

func newTestServer(t *testing.T, mod func(*server.Config)) *testServer {
	t.Helper()
	return startTestServer(t, mod, testrelay.Options{})
}

// newWrappedServer is newTestServer (default configuration) with the body
// store wrapped, for fault injection.
func newWrappedServer(t *testing.T, wrap func(storage.Store) storage.Store) *testServer {
	t.Helper()
	return startTestServer(t, nil, testrelay.Options{WrapStore: wrap})
}

// startTestServer is newTestServer with more options.
func startTestServer(t *testing.T, mod func(*server.Config), o testrelay.Options) *testServer {
	t.Helper()
	cfg := server.DefaultConfig()
	if mod != nil {
		mod(&cfg)
	}
	ts := &testServer{t: t, cfg: cfg, clock: &testrelay.Clock{}}
	o.Now = ts.clock.Now
	if o.Handler.UploadTimeout == 0 {
		o.Handler.UploadTimeout = 10 * time.Second
	}
	o.ConnsPerSource = httpserver.DefaultLimits().ConnsPerSource
	ts.Relay = testrelay.StartWith(t, &cfg, o)
	return ts
}

func (ts *testServer) client() *httpclient.Client {
	c := httpclient.NewClient(ts.Address, httpclient.ClientOptions{})
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

// rawHTTP sends hand-made requests to test servers, over HTTP/2 with TLS
// 1.3 as a Client does, trusting any certificate.
var rawHTTP = &http.Client{Transport: &http.Transport{
	TLSClientConfig:   &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13, NextProtos: []string{"h2", "http/1.1"}},
	ForceAttemptHTTP2: true,
	Proxy:             nil,
}}

// rawBase is the URL prefix of c's server.
func rawBase(c *httpclient.Client) string { return "https://" + c.Address().Host }

// enc is the IDs' encoding in paths (base64url without padding).
var enc = base64.RawURLEncoding.Strict()

func chunkPath(id []byte, suffix string) string {
	return "/v1/chunks/" + enc.EncodeToString(id) + suffix
}
