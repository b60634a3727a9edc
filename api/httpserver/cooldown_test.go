package httpserver_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/xftp/xftp/api/httpserver"
	"github.com/xftp/xftp/identity"
	"github.com/xftp/xftp/internal/h2attack"
)

// TestFloodCooldown: a source whose connection was closed for a flood may
// not connect again until its cool-down is over; other sources may.
func TestFloodCooldown(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	cd := httpserver.NewCooldown(httpserver.FloodCooldown, clock)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	srv, err := httpserver.NewHTTPServer(http.NotFoundHandler(), &identity.Identity{Key: key}, httpserver.ServerOptions{Cooldown: cd})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeTLS(httpserver.LimitConns(raw, httpserver.ConnLimits{Cooldown: cd}), "", "")
	defer srv.Close()
	addr := raw.Addr().String()
	dial := func(from string) (*tls.Conn, error) {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: time.Minute}
		return tls.DialWithDialer(d, "tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	}

	c, err := dial("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := h2attack.Flood(ctx, c, h2attack.Settings, 200_000); !errors.Is(err, h2attack.ErrClosed) {
		t.Fatalf("flood: %v; want closed", err)
	}
	// The guard cools the source down as it closes the connection, before
	// the flooder can see it closed.
	if c, err := dial("127.0.0.1"); err == nil {
		c.Close()
		t.Fatal("the flooding source connected again during its cool-down")
	}
	c2, err := dial("127.0.0.2")
	if err != nil {
		t.Fatalf("another source: %v", err)
	}
	c2.Close()
	mu.Lock()
	now = now.Add(httpserver.FloodCooldown)
	mu.Unlock()
	c3, err := dial("127.0.0.1")
	if err != nil {
		t.Fatalf("after the cool-down: %v", err)
	}
	c3.Close()
}
