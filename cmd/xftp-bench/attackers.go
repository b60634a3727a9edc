package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/xftp/xftp/internal/h2attack"
)

// The attacker runs in a process of its own (role "attacker"), so that
// its goroutines do not share a Go scheduler with the well-behaved client
// whose latency the attack command measures. It reads one JSON command a
// line on stdin and answers each with one JSON line on stdout:
//
//	{"cmd":"start", ...attackOrder}  opens the connections, answers after the ramp
//	{"cmd":"stats"}                  answers the counters
//	{"cmd":"stop"}                   closes every connection, answers the counters
//
// It exits when stdin closes. Every attack is bounded in connections and
// in time (attackOrder.Max), and targets loopback only.

// attackOrder is what the attacker is told to do.
type attackOrder struct {
	Cmd     string        `json:"cmd"`
	Kind    string        `json:"kind,omitempty"`
	Addr    string        `json:"addr,omitempty"` // the relay, 127.0.0.1:port
	Sources int           `json:"sources,omitempty"`
	Conns   int           `json:"conns,omitempty"`   // connections held
	Streams int           `json:"streams,omitempty"` // per HTTP/2 connection (zero-window)
	Ramp    time.Duration `json:"ramp_ns,omitempty"` // at most this long to open them
	Max     time.Duration `json:"max_ns,omitempty"`  // the attack stops by itself after this
}

// attackStats counts an attack's connections.
type attackStats struct {
	Held     int64 `json:"held"`     // open now
	Attempts int64 `json:"attempts"` // dials
	Opened   int64 `json:"opened"`   // dials that started the attack on their connection
	Failed   int64 `json:"failed"`   // dials refused or cut before that
	Cut      int64 `json:"cut"`      // opened connections the relay ended
	// Floods: frames sent, and floods the relay read to the end while
	// keeping the connection.
	Frames    int64  `json:"frames,omitempty"`
	Completed int64  `json:"completed,omitempty"`
	Err       string `json:"error,omitempty"`
}

// attackCounters are attackStats, shared by the slots.
type attackCounters struct {
	held, attempts, opened, failed, cut, tried atomic.Int64
	frames, completed                          atomic.Int64
}

func (c *attackCounters) stats() attackStats {
	return attackStats{Held: c.held.Load(), Attempts: c.attempts.Load(), Opened: c.opened.Load(), Failed: c.failed.Load(), Cut: c.cut.Load(),
		Frames: c.frames.Load(), Completed: c.completed.Load()}
}

const (
	// attackDialTimeout bounds one dial and its TLS handshake.
	attackDialTimeout = 10 * time.Second
	// attackDialers is how many connections are being opened at once,
	// under the listen backlog.
	attackDialers = 128
	// A slot whose connection was refused, or cut within a second, waits
	// before it dials again: from attackMinBackoff, doubling up to
	// attackMaxBackoff (with jitter), as a persistent attacker would.
	attackMinBackoff = 250 * time.Millisecond
	attackMaxBackoff = 4 * time.Second
	// maxAttackSources: the sources are 127.0.0.2 and up.
	maxAttackSources = 250
)

// attackKind is one way to attack the relay over many connections.
type attackKind struct {
	name string
	what string // for the table's legend
	// open opens one connection from src and starts the attack on it.
	open func(ctx context.Context, o attackOrder, src net.IP) (*attackConn, error)
}

// attackConn is one attacker connection. done closes when the relay ended
// it, or a flood is over (nil: the attack does not read, and cannot
// tell). Once it is closed, frames is the count of flood frames sent and
// completed says whether the relay read the whole flood and kept the
// connection.
type attackConn struct {
	c         net.Conn
	done      chan struct{}
	frames    int64
	completed bool
}

// attackKinds are the attacks the command knows, in the order it runs
// them. "none" is the baseline; "h2-" + an internal/h2attack flood is
// that flood.
func attackKinds() []attackKind {
	kinds := []attackKind{
		{name: "none", what: "no attack (the baseline, measured before each attack's rows)"},
		{name: "slow-read", what: "HTTP/1.1 GET /d/xftp.wasm (6.9 MB), 4 KiB receive buffer, never read", open: openSlowRead},
		{name: "zero-window", what: "HTTP/2 with SETTINGS_INITIAL_WINDOW_SIZE 0, --streams GETs of /d/xftp.wasm per connection, no WINDOW_UPDATE", open: openZeroWindow},
		{name: "no-body", what: "HTTP/1.1 GET /healthz announcing Content-Length: 8192, body never sent", open: openNoBody},
		{name: "idle-h2", what: "TLS HTTP/2 connections: preface and SETTINGS, then idle (SETTINGS and PING answered)", open: openIdleH2},
		{name: "conn-flood", what: "TCP connections that never start TLS, dialled again as soon as the relay closes them", open: openConnFlood},
	}
	for _, f := range h2attack.Kinds() {
		kinds = append(kinds, floodKind(f))
	}
	return kinds
}

// defaultFloods are the HTTP/2 floods a run makes unless told otherwise
// (issue 20, item 19).
func defaultFloods() []h2attack.Kind {
	return []h2attack.Kind{h2attack.Settings, h2attack.WindowUpdateConn, h2attack.EmptyData, h2attack.ResetWindowZero}
}

// floodFrames bounds one connection's flood; a relay that reads them all
// and keeps the connection gets a new one.
const floodFrames = 1 << 20

// floodKind is an HTTP/2 flood of internal/h2attack on each connection,
// as fast as it goes; the requests of kinds that open streams ask for
// the page's module.
func floodKind(f h2attack.Kind) attackKind {
	return attackKind{
		name: "h2-" + string(f),
		what: fmt.Sprintf("HTTP/2 %s flood (internal/h2attack), at most %d frames a connection, as fast as it goes; streams GET /d/xftp.wasm", f, floodFrames),
		open: func(ctx context.Context, o attackOrder, src net.IP) (*attackConn, error) {
			c, err := tlsFrom(ctx, o.Addr, src, "h2", 0)
			if err != nil {
				return nil, err
			}
			ac := &attackConn{c: c, done: make(chan struct{})}
			go func() {
				defer close(ac.done)
				n, err := h2attack.FloodWith(ctx, c, f, floodFrames, h2attack.Options{Path: "/d/xftp.wasm", Authority: "xftp"})
				ac.frames, ac.completed = int64(n), err == nil
			}()
			return ac, nil
		},
	}
}

func findKind(name string) (attackKind, bool) {
	for _, k := range attackKinds() {
		if k.name == name {
			return k, true
		}
	}
	return attackKind{}, false
}

// sourceIP is the i-th attacking source, 127.0.0.2 and up: the relay
// listens on 127.0.0.1, where the well-behaved client comes from.
func sourceIP(i int) net.IP { return net.IPv4(127, 0, 0, byte(2+i)) }

// dialFrom opens a TCP connection to addr from src.
func dialFrom(ctx context.Context, addr string, src net.IP) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Timeout: attackDialTimeout}
	return d.DialContext(ctx, "tcp", addr)
}

// tlsFrom opens a TLS connection from src negotiating proto. With rcvbuf
// > 0 the socket's receive buffer is shrunk to it first. Attackers do not
// check the relay's identity.
func tlsFrom(ctx context.Context, addr string, src net.IP, proto string, rcvbuf int) (net.Conn, error) {
	raw, err := dialFrom(ctx, addr, src)
	if err != nil {
		return nil, err
	}
	if tc, ok := raw.(*net.TCPConn); ok && rcvbuf > 0 {
		tc.SetReadBuffer(rcvbuf)
	}
	c := tls.Client(raw, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13, NextProtos: []string{proto}})
	hctx, cancel := context.WithTimeout(ctx, attackDialTimeout)
	defer cancel()
	if err := c.HandshakeContext(hctx); err != nil {
		raw.Close()
		return nil, err
	}
	if got := c.ConnectionState().NegotiatedProtocol; got != proto {
		c.Close()
		return nil, fmt.Errorf("negotiated %q, not %q", got, proto)
	}
	return c, nil
}

// tlsSend opens a TLS connection as tlsFrom does and writes first on it.
func tlsSend(ctx context.Context, addr string, src net.IP, proto string, rcvbuf int, first string) (net.Conn, error) {
	c, err := tlsFrom(ctx, addr, src, proto, rcvbuf)
	if err != nil {
		return nil, err
	}
	if _, err := io.WriteString(c, first); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// readUntilClosed returns a channel closed once a read from c fails (the
// relay closed it, or we did), discarding what it reads.
func readUntilClosed(c io.Reader) chan struct{} {
	done := make(chan struct{})
	go func() {
		io.Copy(io.Discard, c)
		close(done)
	}()
	return done
}

func openSlowRead(ctx context.Context, o attackOrder, src net.IP) (*attackConn, error) {
	c, err := tlsSend(ctx, o.Addr, src, "http/1.1", 4096, "GET /d/xftp.wasm HTTP/1.1\r\nHost: xftp\r\n\r\n")
	if err != nil {
		return nil, err
	}
	// Reading would defeat the attack: whether the relay cut the
	// connection is not known until the slot closes it.
	return &attackConn{c: c}, nil
}

func openNoBody(ctx context.Context, o attackOrder, src net.IP) (*attackConn, error) {
	c, err := tlsSend(ctx, o.Addr, src, "http/1.1", 0, "GET /healthz HTTP/1.1\r\nHost: xftp\r\nContent-Length: 8192\r\n\r\n")
	if err != nil {
		return nil, err
	}
	return &attackConn{c: c, done: readUntilClosed(c)}, nil
}

func openConnFlood(ctx context.Context, o attackOrder, src net.IP) (*attackConn, error) {
	c, err := dialFrom(ctx, o.Addr, src)
	if err != nil {
		return nil, err
	}
	return &attackConn{c: c, done: readUntilClosed(c)}, nil
}

// h2Open opens an HTTP/2 connection from src with the given SETTINGS and
// returns it with its framer.
func h2Open(ctx context.Context, o attackOrder, src net.IP, settings ...http2.Setting) (net.Conn, *http2.Framer, error) {
	c, err := tlsSend(ctx, o.Addr, src, "h2", 0, http2.ClientPreface)
	if err != nil {
		return nil, nil, err
	}
	fr := http2.NewFramer(c, c)
	if err := fr.WriteSettings(settings...); err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, fr, nil
}

// h2Answer reads frames until the connection fails, acknowledging
// SETTINGS and answering PING as a live client does, and sending nothing
// else (no WINDOW_UPDATE).
func h2Answer(fr *http2.Framer) chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				return
			}
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if !f.IsAck() {
					err = fr.WriteSettingsAck()
				}
			case *http2.PingFrame:
				if !f.IsAck() {
					err = fr.WritePing(true, f.Data)
				}
			}
			if err != nil {
				return
			}
		}
	}()
	return done
}

func openIdleH2(ctx context.Context, o attackOrder, src net.IP) (*attackConn, error) {
	c, fr, err := h2Open(ctx, o, src)
	if err != nil {
		return nil, err
	}
	return &attackConn{c: c, done: h2Answer(fr)}, nil
}

func openZeroWindow(ctx context.Context, o attackOrder, src net.IP) (*attackConn, error) {
	c, fr, err := h2Open(ctx, o, src, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	if err != nil {
		return nil, err
	}
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for i := range max(o.Streams, 1) {
		hb.Reset()
		for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "xftp"}, {":path", "/d/xftp.wasm"}} {
			enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
		}
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: uint32(2*i + 1), BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
			c.Close()
			return nil, err
		}
	}
	return &attackConn{c: c, done: h2Answer(fr)}, nil
}

// attack is one running attack: slots, each holding one connection and
// dialling again when it is refused or cut.
type attack struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	n      attackCounters
}

// startAttack starts o.Conns slots spread over o.Sources sources and
// returns once every slot has tried once, or o.Ramp has passed.
func startAttack(ctx context.Context, o attackOrder) (*attack, error) {
	k, ok := findKind(o.Kind)
	switch {
	case !ok || k.open == nil:
		return nil, fmt.Errorf("no attack %q", o.Kind)
	case o.Sources < 1 || o.Sources > maxAttackSources:
		return nil, fmt.Errorf("%d sources: 1 to %d", o.Sources, maxAttackSources)
	case o.Conns < 1:
		return nil, fmt.Errorf("%d connections", o.Conns)
	case o.Max <= 0 || o.Ramp <= 0:
		return nil, errors.New("ramp and max must be positive")
	}
	host, _, err := net.SplitHostPort(o.Addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("%q is not a loopback address", o.Addr)
	}
	ctx, cancel := context.WithTimeout(ctx, o.Max)
	a := &attack{cancel: cancel}
	dialers := make(chan struct{}, attackDialers)
	for i := range o.Conns {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			a.slot(ctx, k, o, sourceIP(i%o.Sources), dialers)
		}()
	}
	ramp := time.NewTimer(o.Ramp)
	defer ramp.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for a.n.tried.Load() < int64(o.Conns) {
		select {
		case <-ramp.C:
			return a, nil
		case <-tick.C:
		}
	}
	return a, nil
}

// slot keeps one attacker connection open until ctx ends.
func (a *attack) slot(ctx context.Context, k attackKind, o attackOrder, src net.IP, dialers chan struct{}) {
	backoff := attackMinBackoff
	first := true
	wait := func() bool {
		d := backoff/2 + rand.N(backoff/2+1)
		backoff = min(2*backoff, attackMaxBackoff)
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for ctx.Err() == nil {
		select {
		case dialers <- struct{}{}:
		case <-ctx.Done():
			return
		}
		a.n.attempts.Add(1)
		c, err := k.open(ctx, o, src)
		<-dialers
		if first {
			a.n.tried.Add(1)
			first = false
		}
		if err != nil {
			a.n.failed.Add(1)
			if !wait() {
				return
			}
			continue
		}
		a.n.opened.Add(1)
		a.n.held.Add(1)
		opened := time.Now()
		select {
		case <-c.done: // nil: never
			a.n.held.Add(-1)
			a.n.frames.Add(c.frames)
			if c.completed {
				a.n.completed.Add(1)
			} else {
				a.n.cut.Add(1)
			}
			c.c.Close()
			if time.Since(opened) >= time.Second {
				backoff = attackMinBackoff
			} else if !wait() {
				return
			}
		case <-ctx.Done():
			c.c.Close()
			if c.done != nil {
				<-c.done
				a.n.frames.Add(c.frames)
			}
			a.n.held.Add(-1)
			return
		}
	}
}

// stop closes every connection and waits for the slots to end.
func (a *attack) stop() attackStats {
	a.cancel()
	a.wg.Wait()
	return a.n.stats()
}

// runAttacker is the attacker role: commands on stdin, answers on stdout.
func runAttacker(in io.Reader, out io.Writer) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fmt.Fprintln(out, "ready")
	var cur *attack
	defer func() {
		if cur != nil {
			cur.stop()
		}
	}()
	enc := json.NewEncoder(out)
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		var o attackOrder
		var ans attackStats
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			ans.Err = err.Error()
			enc.Encode(ans)
			continue
		}
		switch o.Cmd {
		case "start":
			if cur != nil {
				ans.Err = "an attack is running"
				break
			}
			a, err := startAttack(ctx, o)
			if err != nil {
				ans.Err = err.Error()
				break
			}
			cur, ans = a, a.n.stats()
		case "stats":
			if cur != nil {
				ans = cur.n.stats()
			}
		case "stop":
			if cur != nil {
				ans = cur.stop()
				cur = nil
			}
		default:
			ans.Err = fmt.Sprintf("unknown command %q", o.Cmd)
		}
		if err := enc.Encode(ans); err != nil {
			return err
		}
	}
	return sc.Err()
}

// runAttackerRole is main's entry for the role.
func runAttackerRole() error { return runAttacker(os.Stdin, os.Stdout) }
