package h2guard

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// pipeConn feeds a guarded connection the client's bytes and lets the
// server's writes go nowhere.
type pipeConn struct {
	net.Conn // nil: only the methods below are used
	r        bytes.Reader
	closed   bool
}

func (p *pipeConn) Read(b []byte) (int, error)       { return p.r.Read(b) }
func (p *pipeConn) Write(b []byte) (int, error)      { return len(b), nil }
func (p *pipeConn) Close() error                     { p.closed = true; return nil }
func (p *pipeConn) SetWriteDeadline(time.Time) error { return nil }
func (p *pipeConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv6loopback} }

// TestControlBudgetGrowsWithTime: the SETTINGS and PING budget is a base
// plus one a second.
func TestControlBudgetGrowsWithTime(t *testing.T) {
	now := time.Unix(1e9, 0)
	pc := &pipeConn{}
	var floods []Flood
	c := Wrap(pc, &Config{Now: func() time.Time { return now }, OnFlood: func(f Flood, _ net.Addr) { floods = append(floods, f) }}, true)
	ping := frames(t, func(fr *http2.Framer) { fr.WritePing(false, [8]byte{}) })
	send := func(n int) error {
		pc.r.Reset(bytes.Repeat(ping, n))
		_, err := io.Copy(io.Discard, c)
		return err
	}
	l := DefaultLimits()
	if err := send(l.ControlBase); err != nil {
		t.Fatalf("%d PINGs: %v", l.ControlBase, err)
	}
	now = now.Add(10 * time.Second)
	if err := send(10 * l.ControlPerSecond); err != nil {
		t.Fatalf("10 s later, %d more: %v", 10*l.ControlPerSecond, err)
	}
	if err := send(1); !errors.Is(err, ErrFlood) || !pc.closed || len(floods) != 1 || floods[0] != FloodControl {
		t.Fatalf("one more: %v, closed %v, floods %v", err, pc.closed, floods)
	}
}

// TestResetsNoError: RST_STREAM NO_ERROR from the server (a response
// complete before its request) does not count; other codes do.
func TestResetsNoError(t *testing.T) {
	pc := &pipeConn{}
	c := Wrap(pc, nil, true)
	l := DefaultLimits()
	noErr := frames(t, func(fr *http2.Framer) { fr.WriteRSTStream(1, http2.ErrCodeNo) })
	for range 2 * l.ResetBase {
		c.Write(noErr)
	}
	if pc.closed {
		t.Fatal("closed for NO_ERROR resets")
	}
	cancel := frames(t, func(fr *http2.Framer) { fr.WriteRSTStream(1, http2.ErrCodeCancel) })
	for range l.ResetBase + 1 {
		c.Write(cancel)
	}
	if !pc.closed {
		t.Fatal("not closed after ResetBase+1 resets")
	}
}

// TestResetTriggersCountWhenRead: frames that make the server reset a
// stream count when they are read, so that a client that does not read
// (the server's resets wait unwritten) is closed too, after a few.
func TestResetTriggersCountWhenRead(t *testing.T) {
	block := []byte{0x82} // :method GET; the scanner never decodes it
	for name, trigger := range map[string]func(fr *http2.Framer, id uint32){
		"window update 0": func(fr *http2.Framer, id uint32) {
			fr.WriteRawFrame(http2.FrameWindowUpdate, 0, id, []byte{0, 0, 0, 0})
		},
		"window update 2^31-1": func(fr *http2.Framer, id uint32) { fr.WriteWindowUpdate(id, 1<<31-1) },
		"data after end":       func(fr *http2.Framer, id uint32) { fr.WriteData(id, false, []byte{1}) },
		"self-dependency": func(fr *http2.Framer, id uint32) {
			fr.WritePriority(id, http2.PriorityParam{StreamDep: id, Weight: 1})
		},
	} {
		t.Run(name, func(t *testing.T) {
			var id uint32 = 1
			flood := frames(t, func(fr *http2.Framer) {
				for range 20 {
					fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndStream: true, EndHeaders: true})
					trigger(fr, id)
					id += 2
				}
			})
			pc := &pipeConn{}
			pc.r.Reset(flood)
			_, err := io.Copy(io.Discard, Wrap(pc, nil, true))
			if !errors.Is(err, ErrFlood) || !pc.closed {
				t.Fatalf("20 streams, each reset: %v", err)
			}
		})
	}
	// A client that ends its streams and sends nothing after is not
	// counted.
	var id uint32 = 1
	good := frames(t, func(fr *http2.Framer) {
		for range 5000 {
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndHeaders: true})
			fr.WriteData(id, true, []byte("body"))
			fr.WriteWindowUpdate(id, 1<<20)
			id += 2
		}
	})
	pc := &pipeConn{}
	pc.r.Reset(good)
	if _, err := io.Copy(io.Discard, Wrap(pc, nil, true)); err != nil || pc.closed {
		t.Fatalf("5,000 correct streams: %v", err)
	}
}
