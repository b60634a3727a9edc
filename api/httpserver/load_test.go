package httpserver_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xftp/xftp/api/httpserver"
	"github.com/xftp/xftp/internal/testenv"
	"github.com/xftp/xftp/internal/testrelay"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// loadServer is a relay with a short RequestTimeout and a large page at
// /d/big, counting its open connections (plain HTTP: the deadlines are
// the same with TLS).
type loadServer struct {
	addr         string
	open, opened atomic.Int64
	h            *httpserver.Handler
}

func startLoadServer(t *testing.T, o httpserver.HandlerOptions) *loadServer {
	t.Helper()
	page := make([]byte, 16<<20)
	o.Web = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(page) })
	ls := &loadServer{}
	r := testrelay.StartWith(t, nil, testrelay.Options{Handler: o, Server: httpserver.ServerOptions{Plain: true},
		ConnState: func(_ net.Conn, s http.ConnState) {
			switch s {
			case http.StateNew:
				ls.open.Add(1)
				ls.opened.Add(1)
			case http.StateClosed, http.StateHijacked:
				ls.open.Add(-1)
			}
		}})
	ls.addr, ls.h = r.Address.Host, r.Handler
	return ls
}

// waitClosed polls until the server has accepted want connections in all
// and has none open, for at most limit.
func (ls *loadServer) waitClosed(t *testing.T, want int64, limit time.Duration, what string) {
	t.Helper()
	testenv.Eventually(t, limit, func() bool { return ls.opened.Load() >= want && ls.open.Load() == 0 },
		"%s: connections still open", what)
}

// rawConn dials the server with a small receive buffer and sends req.
func rawConn(t *testing.T, addr, req string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).SetReadBuffer(4096)
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSlowReadersAndMissingBodiesAreCut: a client that never reads a large
// answer, and one that announces a body it never sends, are disconnected
// once the request's deadline passes
// (they were held forever outside /v1/chunks; issue 20, items 16 and 17).
func TestSlowReadersAndMissingBodiesAreCut(t *testing.T) {
	ls := startLoadServer(t, httpserver.HandlerOptions{RequestTimeout: 300 * time.Millisecond})
	for i, c := range []struct{ what, req string }{
		{"slow reader of the page", "GET /d/big HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"body announced, never sent", "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 8192\r\n\r\n"},
		{"POST body announced, never sent", "POST /v1/chunks HTTP/1.1\r\nHost: x\r\nContent-Length: 8192\r\n\r\n"},
	} {
		rawConn(t, ls.addr, c.req) // never read from
		// The page gets 4 x RequestTimeout; everything else one.
		ls.waitClosed(t, int64(i+1), 20*time.Second, c.what)
	}
}

// fakeListener hands out connections from given remote addresses.
type fakeListener struct {
	net.Listener
	remotes chan string
}

type fakeConn struct {
	net.Conn
	remote string
	closed atomic.Bool
}

type fakeAddr string

func (a fakeAddr) Network() string       { return "tcp" }
func (a fakeAddr) String() string        { return string(a) }
func (c *fakeConn) RemoteAddr() net.Addr { return fakeAddr(c.remote) }
func (c *fakeConn) Close() error {
	c.closed.Store(true)
	return nil
}

func (l *fakeListener) Accept() (net.Conn, error) {
	r, ok := <-l.remotes
	if !ok {
		return nil, errors.New("closed")
	}
	return &fakeConn{remote: r}, nil
}

// TestConnectionCapsShareTheTotal: the total connection cap is shared
// (past 3/4 of it only sources holding fewer than 4 connections get
// more), and the /64 sources of one IPv6 /48 share a cap (issue 20, item
// 20).
func TestConnectionCapsShareTheTotal(t *testing.T) {
	var mu sync.Mutex
	accepted := map[string]int{}
	try := func(l net.Listener, fl *fakeListener, remotes ...string) {
		// Accept skips refused connections: feed a marker after them.
		for _, r := range remotes {
			fl.remotes <- r
		}
		fl.remotes <- "192.0.2.254:1"
		for {
			c, err := l.Accept()
			if err != nil {
				t.Fatal(err)
			}
			if c.RemoteAddr().String() == "192.0.2.254:1" {
				c.Close() // the marker
				return
			}
			mu.Lock()
			accepted[httpserver.SourceOf(c.RemoteAddr().String())]++
			mu.Unlock()
		}
	}
	fl := &fakeListener{remotes: make(chan string, 1000)}
	l := httpserver.LimitConns(fl, httpserver.ConnLimits{PerSource: 64, Total: 41})
	var many []string
	for range 40 {
		many = append(many, "198.51.100.1:1")
	}
	try(l, fl, many...)
	if accepted["198.51.100.1"] != 30 {
		t.Fatalf("one source got %d of 41 connections, want 30 (3/4)", accepted["198.51.100.1"])
	}
	try(l, fl, "198.51.100.2:1", "198.51.100.2:2", "198.51.100.2:3", "198.51.100.2:4", "198.51.100.2:5")
	if accepted["198.51.100.2"] != httpserver.ReserveConns {
		t.Fatalf("a second source got %d past 3/4, want %d", accepted["198.51.100.2"], httpserver.ReserveConns)
	}
	var v6 []string
	for i := range 300 {
		v6 = append(v6, fmt.Sprintf("[2001:db8:1:%x::1]:1", i))
	}
	fl2 := &fakeListener{remotes: make(chan string, 1000)}
	l2 := httpserver.LimitConns(fl2, httpserver.ConnLimits{PerSource: 64})
	try(l2, fl2, v6...)
	n := 0
	for s, k := range accepted {
		if strings.HasPrefix(s, "2001:db8:1:") {
			n += k
		}
	}
	if n != 256 {
		t.Fatalf("one /48 got %d connections over its /64s, want 4 x 64", n)
	}
}

// TestZeroWindowStreamsAreCut: HTTP/2 streams whose client never opens
// its receive window hold their handlers only until the request's
// deadline (8 sources held 65,408 such streams, 1.06 GiB; issue 20, item
// 16).
func TestZeroWindowStreamsAreCut(t *testing.T) {
	ls := startLoadServer(t, httpserver.HandlerOptions{RequestTimeout: 300 * time.Millisecond})
	const streams = 50
	zeroWindow(t, dialFrom(t, ls.addr, 1), "/d/big", streams, func(http2.Frame) {})
	inflight := ls.h.InFlight
	deadline := time.Now().Add(20 * time.Second)
	// The page holds one source to its share of the page's pool.
	for seen := false; !seen || inflight() != 0; seen = seen || inflight() == httpserver.PageInflightPerSource {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d zero-window streams still held after 20s (seen all: %v)", inflight(), streams, seen)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// dialFrom connects to addr from the loopback address 127.0.0.src, as
// xftp-bench attack's sources do, with a small receive buffer.
func dialFrom(t *testing.T, addr string, src int) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(src))}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).SetReadBuffer(4096)
	t.Cleanup(func() { c.Close() })
	return c
}

// statusOf reads the status code of an HTTP/1.1 answer, and nothing more.
func statusOf(t *testing.T, c net.Conn) int {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(time.Minute))
	var line [len("HTTP/1.1 200")]byte
	if _, err := io.ReadFull(c, line[:]); err != nil {
		t.Fatal(err)
	}
	code, err := strconv.Atoi(string(line[9:]))
	if err != nil {
		t.Fatalf("status line %q", line)
	}
	return code
}

// TestPageHasItsOwnSlots: slow readers of the download page from 20
// sources take at most the page's own pool (MaxInflight/8), never the
// slots of chunk traffic (issue 20, item 16: from 200 sources they took
// all 512 and every client request got 503).
func TestPageHasItsOwnSlots(t *testing.T) {
	const maxInflight, sources, perSource = 64, 20, 4
	ls := startLoadServer(t, httpserver.HandlerOptions{RequestTimeout: 5 * time.Minute, MaxInflight: maxInflight})
	var conns []net.Conn
	for s := range sources {
		for range perSource {
			c := dialFrom(t, ls.addr, 10+s)
			if _, err := io.WriteString(c, "GET /d/big HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
	}
	served := 0
	for _, c := range conns { // read the status only: the slow reader keeps its slot
		switch code := statusOf(t, c); code {
		case http.StatusOK:
			served++
		case http.StatusServiceUnavailable:
		default:
			t.Fatalf("page answered %d", code)
		}
	}
	if n := ls.h.InFlight(); served != maxInflight/8 || n != served {
		t.Fatalf("%d slow readers of the page served, %d requests in flight; want %d, the page's pool", served, n, maxInflight/8)
	}
	// A page reader's source still gets chunk traffic's slots.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 10)}}
	hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: time.Minute}
	defer hc.CloseIdleConnections()
	for i := range 2 * perSource {
		resp, err := hc.Get("http://" + ls.addr + "/v1/ping")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("ping %d from a page reader's source: %d", i, resp.StatusCode)
		}
	}
}

// TestZeroWindowHoldsSlotsNotRefusals: a client that keeps its HTTP/2
// flow-control window shut holds a slot per stream until the answer has
// left (its small answers waited unsent after their handlers returned,
// past their slots), and its refused streams end at once with a 503
// without a body (a body waited on the shut window until the deadline:
// 200 connections × 128 streams held 347 MiB; issue 20, item 16).
func TestZeroWindowHoldsSlotsNotRefusals(t *testing.T) {
	const maxInflight, streams = 64, 100
	ls := startLoadServer(t, httpserver.HandlerOptions{RequestTimeout: time.Minute, MaxInflight: maxInflight})
	c := dialFrom(t, ls.addr, 10)
	var refused atomic.Int64 // streams ended with 503 and no body
	dec := hpack.NewDecoder(4096, nil)
	zeroWindow(t, c, "/v1/ping", streams, func(f http2.Frame) {
		if h, ok := f.(*http2.HeadersFrame); ok {
			fields, err := dec.DecodeFull(h.HeaderBlockFragment())
			if err == nil && len(fields) > 0 && fields[0].Value == "503" && h.StreamEnded() {
				refused.Add(1)
			}
		}
	})
	// One source alone holds half the slots (inflight.go).
	const held = maxInflight / 2
	testenv.Eventually(t, 30*time.Second, func() bool { return refused.Load() == streams-held },
		"want %d of %d streams refused with a bodyless 503", streams-held, streams)
	if n := ls.h.InFlight(); n != held {
		t.Fatalf("%d requests in flight, want the %d whose answers wait on the window", n, held)
	}
	c.Close()
	testenv.Eventually(t, 30*time.Second, func() bool { return ls.h.InFlight() == 0 }, "slots still held after the client left")
}

// zeroWindow opens an HTTP/2 connection on c whose receive window is 0
// and sends n GETs of path on it; each frame the server sends goes to
// seen, in a goroutine, and is never acknowledged (no WINDOW_UPDATE).
func zeroWindow(t *testing.T, c net.Conn, path string, n int, seen func(http2.Frame)) {
	t.Helper()
	c.Write([]byte(http2.ClientPreface))
	fr := http2.NewFramer(c, c)
	if err := fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0}); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				return
			}
			seen(f)
		}
	}()
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for i := range n {
		hb.Reset()
		for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "x"}, {":path", path}} {
			enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
		}
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: uint32(2*i + 1), BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStalledPageReadersAreCut: a reader of the page that stops reading
// (HTTP/1.1 with a full receive buffer, HTTP/2 with its window shut) is
// cut once the answer makes no progress for PageStall, long before the
// page's 4 × RequestTimeout (here 40 minutes), which held the page's slots
// and the host's TCP buffers (issue 20, item 16).
func TestStalledPageReadersAreCut(t *testing.T) {
	ls := startLoadServer(t, httpserver.HandlerOptions{RequestTimeout: 10 * time.Minute, PageStall: 100 * time.Millisecond})
	rawConn(t, ls.addr, "GET /d/big HTTP/1.1\r\nHost: x\r\n\r\n") // never read from
	ls.waitClosed(t, 1, time.Minute, "a stalled reader of the page")
	var reset atomic.Int64 // streams the server reset
	zeroWindow(t, dialFrom(t, ls.addr, 1), "/d/big", httpserver.PageInflightPerSource, func(f http2.Frame) {
		if _, ok := f.(*http2.RSTStreamFrame); ok {
			reset.Add(1)
		}
	})
	testenv.Eventually(t, time.Minute, func() bool {
		return reset.Load() == httpserver.PageInflightPerSource && ls.h.InFlight() == 0
	}, "zero-window streams of the page still held")
}
