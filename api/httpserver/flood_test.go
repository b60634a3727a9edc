package httpserver_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/xftp/xftp/api/httpserver"
	"github.com/xftp/xftp/api/xftp"
	"github.com/xftp/xftp/internal/h2attack"
	"github.com/xftp/xftp/internal/h2guard"
	"github.com/xftp/xftp/internal/testenv"
	"github.com/xftp/xftp/internal/testrelay"
)

// TestHTTP2FloodsClosed floods a relay's listener over each way HTTP/2
// reaches it (TLS with ALPN h2, SimpleX's xftp/1, h2c behind a proxy) and
// checks that the guard closes the connection and reports it
// (internal/h2guard tests every flood kind).
func TestHTTP2FloodsClosed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		plain bool
		alpn  string
	}{{"h2", false, "h2"}, {"xftp", false, xftp.ALPN}, {"h2c", true, ""}} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var floods []h2guard.Flood
			r := testrelay.StartWith(t, nil, testrelay.Options{Server: httpserver.ServerOptions{Plain: tc.plain, OnFlood: func(f h2guard.Flood) {
				mu.Lock()
				floods = append(floods, f)
				mu.Unlock()
			}}})
			for _, k := range []h2attack.Kind{h2attack.Settings, h2attack.ResetWindowZero} {
				var c net.Conn
				var err error
				o := h2attack.Options{Path: "/v1/ping", Scheme: "https"}
				if tc.plain {
					c, err = net.Dial("tcp", r.Address.Host)
					o.Scheme = "http"
				} else {
					c, err = tls.Dial("tcp", r.Address.Host, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{tc.alpn}})
				}
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				sent, err := h2attack.FloodWith(ctx, c, k, 200_000, o)
				cancel()
				if !errors.Is(err, h2attack.ErrClosed) {
					t.Fatalf("%s: flood of %d frames: %v; want the connection closed", k, sent, err)
				}
			}
			testenv.Eventually(t, time.Minute, func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(floods) == 2 && floods[0] == h2guard.FloodControl && floods[1] == h2guard.FloodStreamErrors
			}, "both floods reported (settings_ping, stream_errors)")
		})
	}
}

// TestHTTP2SettingsKept: with HTTP/2 served by x/net under the guard, the
// server still announces NewHTTPServer's settings.
func TestHTTP2SettingsKept(t *testing.T) {
	r := testrelay.StartWith(t, nil, testrelay.Options{Server: httpserver.ServerOptions{MaxConcurrentStreams: 77}})
	c, err := tls.Dial("tcp", r.Address.Host, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, c)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	f, err := fr.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	sf, ok := f.(*http2.SettingsFrame)
	if !ok {
		t.Fatalf("first frame %v, want SETTINGS", f.Header())
	}
	for id, want := range map[http2.SettingID]uint32{
		http2.SettingMaxConcurrentStreams: 77,
		http2.SettingInitialWindowSize:    2 << 20,
		http2.SettingMaxFrameSize:         1 << 20,
	} {
		if got, ok := sf.Value(id); !ok || got != want {
			t.Errorf("%v = %d (sent: %v), want %d", id, got, ok, want)
		}
	}
	// The connection's receive window grows to 64 MiB at once.
	for range 4 {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if wu, ok := f.(*http2.WindowUpdateFrame); ok && wu.StreamID == 0 {
			if wu.Increment != 64<<20-65535 {
				t.Errorf("connection window +%d, want 64 MiB", wu.Increment)
			}
			return
		}
	}
	t.Error("no WINDOW_UPDATE for the connection's window")
}
