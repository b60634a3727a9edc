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

// TestControlBudgetGrowsWithTime: the SETTINGS and PING budget is a base
// plus one a second.
func TestControlBudgetGrowsWithTime(t *testing.T) {
	now := time.Unix(1e9, 0)
	pc := &pipeConn{}
	var floods []Flood
	c := Wrap(pc, &Config{Now: func() time.Time { return now }, OnFlood: func(f Flood) { floods = append(floods, f) }}, true)
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
