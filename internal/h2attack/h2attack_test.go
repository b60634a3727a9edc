package h2attack

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// h2cServer serves HTTP/2 with prior knowledge on loopback with net/http's
// own server, which limits rapid reset but none of the other floods.
func h2cServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("ok"))
		}),
		Protocols: new(http.Protocols),
	}
	srv.Protocols.SetUnencryptedHTTP2(true)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestFloodWritesMax floods net/http's server, which limits none of these
// at this size: each flood ends with the server's answer to its PING.
func TestFloodWritesMax(t *testing.T) {
	addr := h2cServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, k := range Kinds() {
		t.Run(string(k), func(t *testing.T) {
			// Kinds that open streams write two frames a stream, so an
			// odd max leaves one out.
			want := 1001
			switch k {
			case RapidReset, ResetWindowZero, ResetWindowOverflow, ResetClosedData:
				want = 1000
			}
			sent, err := FloodWith(ctx, dial(t, addr), k, 1001, Options{Scheme: "http"})
			if err != nil || sent != want {
				t.Fatalf("Flood = %d, %v; want %d, nil", sent, err, want)
			}
		})
	}
}

// acceptOnce listens on loopback, hands the first connection to serve and
// closes it after; it returns the address.
func acceptOnce(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		serve(c)
	}()
	return ln.Addr().String()
}

func TestFloodSeesGoAway(t *testing.T) {
	// A server that answers the preface with GOAWAY and hangs up.
	addr := acceptOnce(t, func(c net.Conn) {
		preface := make([]byte, len(http2.ClientPreface))
		if _, err := io.ReadFull(c, preface); err != nil {
			return
		}
		http2.NewFramer(c, nil).WriteGoAway(0, http2.ErrCodeEnhanceYourCalm, nil)
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sent, err := Flood(ctx, dial(t, addr), RapidReset, 1_000_000)
	var g *GoAwayError
	if !errors.As(err, &g) || !errors.Is(err, ErrClosed) || g.Code != http2.ErrCodeEnhanceYourCalm {
		t.Fatalf("Flood = %d, %v; want GOAWAY ENHANCE_YOUR_CALM", sent, err)
	}
}

func TestFloodClosed(t *testing.T) {
	addr := acceptOnce(t, func(net.Conn) {}) // hangs up at once
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sent, err := Flood(ctx, dial(t, addr), Ping, 1_000_000)
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("Flood = %d, %v; want ErrClosed", sent, err)
	}
}

func TestFloodContext(t *testing.T) {
	addr := h2cServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Flood(ctx, dial(t, addr), Ping, 1_000_000); !errors.Is(err, context.Canceled) {
		t.Fatalf("Flood = %v; want context.Canceled", err)
	}
}

func TestParseKind(t *testing.T) {
	for _, k := range Kinds() {
		if got, err := ParseKind(string(k)); got != k || err != nil {
			t.Errorf("ParseKind(%q) = %q, %v", k, got, err)
		}
	}
	if _, err := ParseKind("nope"); err == nil {
		t.Error("ParseKind(nope): no error")
	}
	c, _ := net.Pipe()
	if _, err := Flood(context.Background(), c, "nope", 1); err == nil {
		t.Error("Flood(nope): no error")
	}
}
