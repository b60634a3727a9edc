package h2guard

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/xftp/xftp/identity"
	"github.com/xftp/xftp/internal/h2attack"
	"github.com/xftp/xftp/internal/testenv"
)

// testServer is an HTTP/2 server on loopback configured as xftpd's
// (api/httpserver.NewHTTPServer), with the guard installed unless
// XFTP_TEST_H2GUARD_OFF is set (to see the flood tests fail without it).
type testServer struct {
	addr string
	tls  bool

	mu     sync.Mutex
	floods []Flood
}

type ctxKey struct{}

func startServer(t testing.TB, useTLS bool) *testServer {
	t.Helper()
	return startServerGuarded(t, useTLS, os.Getenv("XFTP_TEST_H2GUARD_OFF") == "")
}

func startServerGuarded(t testing.TB, useTLS, guard bool) *testServer {
	t.Helper()
	ts := &testServer{tls: useTLS}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		// A handler that works until its stream is reset.
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	mux.HandleFunc("/conn", func(w http.ResponseWriter, r *http.Request) {
		// What the XFTP binding needs: TLS state and ConnContext values.
		if r.Context().Value(ctxKey{}) != "conn" || (useTLS && (r.TLS == nil || r.TLS.Version != tls.VersionTLS13)) {
			http.Error(w, "no connection state", http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("/blob", serveBlob)
	srv := &http.Server{
		Handler:     mux,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context { return context.WithValue(ctx, ctxKey{}, "conn") },
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams:          128,
			MaxReceiveBufferPerConnection: 64 << 20,
			MaxReceiveBufferPerStream:     2 << 20,
			MaxReadFrameSize:              1 << 20,
		},
		Protocols: new(http.Protocols),
		ErrorLog:  nil,
	}
	srv.Protocols.SetHTTP1(true)
	if useTLS {
		srv.Protocols.SetHTTP2(true)
		_, key, _ := ed25519.GenerateKey(rand.Reader)
		cert, err := (&identity.Identity{Key: key}).Certificate(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}
	} else {
		srv.Protocols.SetUnencryptedHTTP2(true)
	}
	if guard {
		cfg := Config{OnFlood: func(f Flood, _ net.Addr) {
			ts.mu.Lock()
			ts.floods = append(ts.floods, f)
			ts.mu.Unlock()
		}}
		if err := Install(srv, cfg); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = ln.Addr().String()
	if useTLS {
		go srv.ServeTLS(ln, "", "")
	} else {
		go srv.Serve(ln)
	}
	t.Cleanup(func() { srv.Close() })
	return ts
}

// serveBlob answers GET with n bytes (?n=) and POST by reading the body.
func serveBlob(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("X-Read", http.CanonicalHeaderKey(string(rune('0'+n%10))))
		return
	}
	buf := make([]byte, 256<<10)
	for left := blobSize; left > 0; left -= len(buf) {
		if _, err := w.Write(buf[:min(left, len(buf))]); err != nil {
			return
		}
	}
}

const blobSize = 4 << 20

func (ts *testServer) dial(t testing.TB) net.Conn {
	t.Helper()
	if !ts.tls {
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c, err := tls.Dial("tcp", ts.addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("negotiated %q, want h2", p)
	}
	return c
}

func (ts *testServer) flooded() []Flood {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]Flood(nil), ts.floods...)
}

// maxFrames bounds every flood: far above the limits' few thousand, far
// below what a server without them takes in a test's time.
const maxFrames = 200_000

// TestFloodsClosed floods a guarded server with each kind, over TLS and
// h2c, and checks the connection is closed before the flood is over.
// With XFTP_TEST_H2GUARD_OFF=1 (no guard) every kind but rapid reset
// runs to its end on net/http's server.
func TestFloodsClosed(t *testing.T) {
	want := map[h2attack.Kind]Flood{
		h2attack.Settings: FloodControl, h2attack.Ping: FloodControl, h2attack.Priority: FloodPriority,
		h2attack.WindowUpdateConn: FloodWindowUpdate, h2attack.WindowUpdateStream: FloodWindowUpdate,
		h2attack.EmptyData: FloodEmpty, h2attack.RapidReset: FloodResets, h2attack.ResetWindowZero: FloodStreamErrors,
		h2attack.ResetWindowOverflow: FloodStreamErrors, h2attack.ResetClosedData: FloodStreamErrors,
	}
	for _, useTLS := range []bool{true, false} {
		ts := startServer(t, useTLS)
		scheme := map[bool]string{true: "https", false: "http"}[useTLS]
		for _, k := range h2attack.Kinds() {
			t.Run(scheme+"/"+string(k), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				o := h2attack.Options{Scheme: scheme}
				switch k {
				case h2attack.ResetWindowOverflow:
					// Its stream must still be open when the
					// WINDOW_UPDATE comes: a handler that waits.
					o.Path = "/slow"
				case h2attack.EmptyData, h2attack.WindowUpdateStream:
					// A POST whose handler reads the body it
					// never gets keeps the stream open.
					o.Path = "/blob"
				}
				before := len(ts.flooded())
				sent, err := h2attack.FloodWith(ctx, ts.dial(t), k, maxFrames, o)
				if !errors.Is(err, h2attack.ErrClosed) {
					t.Fatalf("flood of %d frames: %v; want the connection closed", sent, err)
				}
				t.Logf("closed after %d frames: %v", sent, err)
				var g *h2attack.GoAwayError
				if errors.As(err, &g) && g.Code != http2.ErrCodeEnhanceYourCalm {
					t.Errorf("GOAWAY %v, want ENHANCE_YOUR_CALM", g.Code)
				}
				if k == h2attack.RapidReset {
					return // net/http's own limit may close it first
				}
				var got []Flood
				testenv.Eventually(t, time.Minute, func() bool { got = ts.flooded()[before:]; return len(got) > 0 }, "no flood reported")
				if got[0] != want[k] {
					t.Errorf("closed for %s, want %s", got[0], want[k])
				}
			})
		}
	}
}
