package h2guard

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures the connections Wrap guards.
type Config struct {
	Limits Limits
	// Logger gets a warning for each connection closed (nil: none).
	Logger *slog.Logger
	// OnFlood is called once for each connection closed, with its remote
	// address (nil: none). (The address is for per-source measures; never
	// log it.)
	OnFlood func(f Flood, remote net.Addr)
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// ErrFlood is what a guarded connection's Read returns once it is closed
// for a flood.
var ErrFlood = errors.New("h2guard: connection closed for an HTTP/2 frame flood")

// Conn is a net.Conn whose HTTP/2 frames are counted against Limits.
type Conn struct {
	net.Conn
	cfg   *Config
	lim   Limits
	start time.Time

	// Read side (the server's frame-reading goroutine).
	in        *scanner
	empty     int // consecutive empty frames
	control   int
	priority  int
	windowUps int
	maxStream uint32
	ended     endedStreams
	// streamErrors: frames that make the server reset a stream
	streamErrors int

	// Both sides.
	streams atomic.Int64 // client streams opened
	resets  atomic.Int64 // RST_STREAM frames counted

	// Write side, under wmu.
	wmu       sync.Mutex
	out       *scanner
	dataOut   atomic.Int64 // DATA frames the server sent
	bytesOut  atomic.Int64 // DATA payload bytes the server sent
	lastStrID atomic.Uint32

	closed atomic.Bool
}

// Wrap guards the server's side c of an HTTP/2 connection. sawPreface
// says whether the client preface has already been read from c. If c
// has a ConnectionState method (a *tls.Conn), so has the result, so that
// HTTP/2 servers see the TLS state.
func Wrap(c net.Conn, cfg *Config, sawPreface bool) net.Conn {
	if cfg == nil {
		cfg = &Config{}
	}
	skip := prefaceLen
	if sawPreface {
		skip = 0
	}
	g := &Conn{Conn: c, cfg: cfg, lim: cfg.Limits.withDefaults(), in: newScanner(skip), out: newScanner(0)}
	g.start = g.now()
	if cs, ok := c.(connectionStater); ok {
		return &tlsConn{Conn: g, cs: cs}
	}
	return g
}

type connectionStater interface {
	ConnectionState() tls.ConnectionState
}

// tlsConn is a guarded connection over TLS.
type tlsConn struct {
	*Conn
	cs connectionStater
}

// ConnectionState is the TLS state of the connection under the guard.
func (c *tlsConn) ConnectionState() tls.ConnectionState { return c.cs.ConnectionState() }

func (c *Conn) now() time.Time {
	if c.cfg.Now != nil {
		return c.cfg.Now()
	}
	return time.Now()
}

// Read reads from the connection and counts the client's frames. Once a
// limit is passed it closes the connection and returns ErrFlood, without
// the bytes that passed it.
func (c *Conn) Read(p []byte) (int, error) {
	if c.closed.Load() {
		return 0, ErrFlood
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		if ferr := c.in.feed(p[:n], c.inbound); ferr != nil {
			return 0, ferr
		}
	}
	return n, err
}

// Write writes to the connection and counts the server's frames.
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	n, err := c.Conn.Write(p)
	if n > 0 {
		if ferr := c.out.feed(p[:n], c.outbound); ferr != nil {
			// p is written: a GOAWAY may follow it.
			c.closeLocked(FloodResets, c.out.atBoundary())
		}
	}
	return n, err
}

// floodError carries the Flood a frame passed the limit of out of a
// scanner callback.
type floodError struct{ flood Flood }

func (e floodError) Error() string { return ErrFlood.Error() + " (" + string(e.flood) + ")" }
func (e floodError) Unwrap() error { return ErrFlood }

func (c *Conn) inbound(f *frame) error {
	switch f.typ {
	case frameData, frameHeaders, frameContinuation:
		if f.empty() && f.flags&flagEndStream == 0 {
			c.empty++
			if c.empty > c.lim.EmptyFrames {
				return c.flood(FloodEmpty)
			}
		} else {
			c.empty = 0
		}
		if f.typ == frameHeaders && f.stream%2 == 1 && f.stream > c.maxStream {
			c.maxStream = f.stream
			c.lastStrID.Store(f.stream)
			c.streams.Add(1)
			c.ended.open(f.stream)
		} else if f.typ != frameContinuation && c.ended.has(f.stream) {
			// DATA or HEADERS after the client ended the stream: the
			// server resets it (MadeYouReset).
			if c.tooManyStreamErrors() {
				return c.flood(FloodStreamErrors)
			}
		}
		if f.flags&flagEndStream != 0 && f.typ != frameContinuation {
			c.ended.end(f.stream)
		}
	case frameSettings, framePing:
		c.control++
		if c.control > c.lim.ControlBase+c.lim.ControlPerStream*int(c.streams.Load()) {
			// The clock only when over the base budget.
			secs := int(c.now().Sub(c.start) / time.Second)
			if c.control > c.lim.ControlBase+c.lim.ControlPerStream*int(c.streams.Load())+c.lim.ControlPerSecond*secs {
				return c.flood(FloodControl)
			}
		}
	case frameWindowUpdate:
		// An increment of 0, or one no client would give a stream (1 GiB),
		// makes the server reset the stream (MadeYouReset).
		if inc := f.word31(); f.stream != 0 && (inc == 0 || inc >= 1<<30) && c.tooManyStreamErrors() {
			return c.flood(FloodStreamErrors)
		}
		c.windowUps++
		l := c.lim
		budget := int64(l.WindowUpdateBase) + int64(l.WindowUpdatePerStream)*c.streams.Load() +
			int64(l.WindowUpdatePerDataFrame)*c.dataOut.Load() + c.bytesOut.Load()/int64(l.WindowUpdateBytes)
		if int64(c.windowUps) > budget {
			return c.flood(FloodWindowUpdate)
		}
	case frameRSTStream:
		if c.tooManyResets() {
			return c.flood(FloodResets)
		}
	case frameGoAway, framePushPromise:
		// GOAWAY ends the connection; PUSH_PROMISE from a client is a
		// connection error.
	default: // PRIORITY and unknown types
		if f.typ == framePriority && f.word31() == f.stream && c.tooManyStreamErrors() {
			return c.flood(FloodStreamErrors) // a stream depending on itself is reset
		}
		c.priority++
		if c.priority > c.lim.PriorityBase+c.lim.PriorityPerStream*int(c.streams.Load()) {
			return c.flood(FloodPriority)
		}
	}
	return nil
}

func (c *Conn) outbound(f *frame) error {
	switch f.typ {
	case frameData:
		c.dataOut.Add(1)
		c.bytesOut.Add(int64(f.length))
	case frameRSTStream:
		if f.errCode() != 0 && c.tooManyResets() { // NO_ERROR: a complete response
			return floodError{FloodResets}
		}
	}
	return nil
}

// tooManyStreamErrors counts a frame that makes the server reset its
// stream and reports whether it passed the limit. Counted when read: the
// server's reset may wait behind a peer that does not read.
func (c *Conn) tooManyStreamErrors() bool {
	c.streamErrors++
	return c.streamErrors > c.lim.StreamErrorBase+int(c.streams.Load())*c.lim.StreamErrorPercent/100
}

// tooManyResets counts a reset and reports whether it passed the limit.
func (c *Conn) tooManyResets() bool {
	r := c.resets.Add(1)
	return r > int64(c.lim.ResetBase)+c.streams.Load()*int64(c.lim.ResetPercent)/100
}

// flood closes the connection from the read side.
func (c *Conn) flood(fl Flood) error {
	// A GOAWAY only if no write is under way, and the last one ended
	// with a whole frame.
	if c.wmu.TryLock() {
		c.closeLocked(fl, c.out.atBoundary())
		c.wmu.Unlock()
	} else {
		c.closeNow(fl)
	}
	return floodError{fl}
}

// closeLocked closes the connection, with a GOAWAY first if goAway; c.wmu
// is held.
func (c *Conn) closeLocked(fl Flood, goAway bool) {
	if c.closed.Load() {
		return
	}
	if goAway {
		last := c.lastStrID.Load()
		f := [frameHeaderLen + 8]byte{
			0, 0, 8, frameGoAway, 0, 0, 0, 0, 0,
			byte(last >> 24), byte(last >> 16), byte(last >> 8), byte(last),
			0, 0, 0, 0xb, // ENHANCE_YOUR_CALM
		}
		// A client that does not read gets no GOAWAY.
		c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
		c.Conn.Write(f[:])
	}
	c.closeNow(fl)
}

func (c *Conn) closeNow(fl Flood) {
	if !c.closed.CompareAndSwap(false, true) {
		return
	}
	// Reported before the close, so that whatever OnFlood does (a
	// source's cool-down) holds by the time the peer sees it.
	if c.cfg.Logger != nil {
		c.cfg.Logger.LogAttrs(context.Background(), slog.LevelWarn, "http2 flood: connection closed",
			slog.String("flood", string(fl)), slog.Int64("streams", c.streams.Load()))
	}
	if c.cfg.OnFlood != nil {
		c.cfg.OnFlood(fl, c.Conn.RemoteAddr())
	}
	c.Conn.Close()
}

// endedStreams remembers which of the client's last 1,024 streams it has
// ended (END_STREAM), so that frames after the end can be told.
type endedStreams struct {
	bits [16]uint64 // by client stream index (stream ID / 2) mod 1,024
	max  uint32     // the highest index opened
}

const endedWindow = 1024

func (e *endedStreams) open(stream uint32) {
	i := stream / 2
	if i-e.max >= endedWindow {
		e.bits = [16]uint64{}
	} else {
		for j := e.max + 1; j <= i; j++ {
			e.bits[j%endedWindow/64] &^= 1 << (j % 64)
		}
	}
	e.max = i
}

func (e *endedStreams) end(stream uint32) {
	if i := stream / 2; stream%2 == 1 && i <= e.max && e.max-i < endedWindow {
		e.bits[i%endedWindow/64] |= 1 << (i % 64)
	}
}

func (e *endedStreams) has(stream uint32) bool {
	i := stream / 2
	return stream%2 == 1 && i <= e.max && e.max-i < endedWindow && e.bits[i%endedWindow/64]&(1<<(i%64)) != 0
}
