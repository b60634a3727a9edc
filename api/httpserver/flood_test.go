package httpserver_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

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
