package httpserver_test

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/xftp/xftp/api/httpserver"
	"github.com/xftp/xftp/internal/testenv"
)

func TestCreateRateLimitPerSource(t *testing.T) {
	ts := newTestServer(t, nil)
	h := httpserver.NewHandler(ts.Service, httpserver.HandlerOptions{Limits: httpserver.Limits{CreatesPerMinute: 3}})
	srv := httptest.NewServer(h.Routes())
	defer srv.Close()
	status := func() (int, string) {
		resp, err := http.Post(srv.URL+"/v1/chunks", "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	for i := 0; i < 3; i++ {
		if s, _ := status(); s == http.StatusTooManyRequests {
			t.Fatalf("request %d was limited within the burst", i+1)
		}
	}
	s, retry := status()
	if s != http.StatusTooManyRequests || retry == "" {
		t.Fatalf("4th create: %d, Retry-After %q; want 429 with Retry-After", s, retry)
	}
	// Other sources are not affected.
	rl := httpserver.NewRateLimiter(1)
	now := time.Now()
	if ok, _ := rl.Allow("10.0.0.1:1", now); !ok {
		t.Fatal("first request refused")
	}
	if ok, _ := rl.Allow("10.0.0.1:2", now); ok {
		t.Fatal("second request within the minute allowed")
	}
	if ok, _ := rl.Allow("10.0.0.2:1", now); !ok {
		t.Fatal("another source was limited")
	}
}

func TestLimitListenerCapsConnectionsPerSource(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })}
	go srv.Serve(httpserver.LimitListener(ln, 2))
	defer srv.Close()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	alive := func(c net.Conn) bool {
		c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
			return false
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		return err == nil && strings.Contains(line, "200")
	}
	a, b := dial(), dial()
	defer a.Close()
	if !alive(a) || !alive(b) {
		t.Fatal("connections within the limit were refused")
	}
	c := dial()
	if alive(c) {
		t.Fatal("a third connection from one source was served")
	}
	c.Close()
	b.Close()
	// The listener learns of the close when the server's side of b ends:
	// poll for a connection that is served.
	testenv.Eventually(t, 10*time.Second, func() bool {
		d := dial()
		defer d.Close()
		return alive(d)
	}, "a connection after one closed was refused")
}

func TestSourcesGroupIPv6By64(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7:443":                  "192.0.2.7",
		"[2001:db8:1:2:aaaa::1]:5443":    "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff:1:2:3]:5443": "2001:db8:1:2::/64",
		"[2001:db8:1:3::1]:5443":         "2001:db8:1:3::/64",
	} {
		if got := httpserver.SourceOf(in); got != want {
			t.Errorf("SourceOf(%q) = %q, want %q", in, got, want)
		}
	}
}
