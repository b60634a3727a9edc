package httpserver

import (
	"context"
	"crypto/tls"
	"log"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"time"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/identity"
	"github.com/xftp/xftp/internal/h2guard"
)

// ServerOptions configure the HTTP server.
type ServerOptions struct {
	// Plain serves HTTP/1.1 and unencrypted HTTP/2 (h2c) instead of TLS,
	// for running behind a TLS-terminating reverse proxy. Clients then
	// verify the identity with a signed challenge (see docs/PROTOCOL.md).
	Plain bool
	// MaxConcurrentStreams per connection.
	MaxConcurrentStreams int
	Logger               *slog.Logger
	// OnFlood is called for each HTTP/2 connection closed for a frame
	// flood (h2guard); nil: none.
	OnFlood func(h2guard.Flood)
	// Cooldown, if set, cools down the source of each connection closed
	// for a flood; give the same to the listener's ConnLimits.
	Cooldown *Cooldown
	// IdleTimeout closes connections idle this long (default 2 minutes).
	// Set it here: the HTTP/2 server takes it when NewHTTPServer returns,
	// so changing the http.Server's field afterwards reaches HTTP/1.1
	// only.
	IdleTimeout time.Duration
}

// NewHTTPServer returns an http.Server for handler, tuned for streaming
// chunks over HTTP/2: large flow-control windows and frames, bounded
// headers, and timeouts for slow or idle peers. HTTP/2 connections (TLS
// and h2c) are guarded against frame floods (h2guard). With TLS, the
// certificate is the identity's own, which clients pin.
func NewHTTPServer(handler http.Handler, id *identity.Identity, o ServerOptions) (*http.Server, error) {
	if o.MaxConcurrentStreams <= 0 {
		o.MaxConcurrentStreams = 128
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 2 * time.Minute
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       o.IdleTimeout,
		MaxHeaderBytes:    api.MaxHeaderBytes,
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams: o.MaxConcurrentStreams,
			// Receive windows bound what HTTP/2 buffers per upload before
			// the handler reads it: with 8 MiB per stream, 64 concurrent
			// 4 MiB uploads peaked at 356 MiB RSS, with 2 MiB at 218 MiB,
			// at the same throughput (docs/BENCHMARKS.md). 2 MiB still
			// fills 160 Mbit/s per stream at 100 ms round trips, and a
			// client sends several chunks at once.
			MaxReceiveBufferPerConnection: 64 << 20,
			MaxReceiveBufferPerStream:     2 << 20,
			MaxReadFrameSize:              1 << 20,
			SendPingTimeout:               30 * time.Second,
			PingTimeout:                   15 * time.Second,
		},
		Protocols: new(http.Protocols),
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	// net/http's own messages (TLS handshake errors) name peer addresses:
	// scrub them, and keep them at debug level.
	srv.ErrorLog = log.New(scrubWriter{o.Logger}, "", 0)
	if o.Plain {
		srv.Protocols.SetHTTP1(true)
		srv.Protocols.SetUnencryptedHTTP2(true)
		return srv, guardHTTP2(srv, o)
	}
	cert, err := id.Certificate(time.Now())
	if err != nil {
		return nil, err
	}
	// HTTP/1.1 stays on for health probes and simple tools; clients
	// negotiate h2.
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetHTTP2(true)
	srv.TLSConfig = &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"h2", "http/1.1"},
	}
	return srv, guardHTTP2(srv, o)
}

// guardHTTP2 limits the control frames of srv's HTTP/2 connections.
func guardHTTP2(srv *http.Server, o ServerOptions) error {
	l := h2guard.DefaultLimits()
	// A client may reset every stream it may have open (cancelling a
	// batch of transfers) beyond half of all it opened.
	l.ResetBase = o.MaxConcurrentStreams
	return h2guard.Install(srv, h2guard.Config{Limits: l, Logger: o.Logger, OnFlood: func(f h2guard.Flood, remote net.Addr) {
		if o.OnFlood != nil {
			o.OnFlood(f)
		}
		if o.Cooldown != nil {
			o.Cooldown.Start(remote.String())
		}
	}})
}

// peerAddr matches IPv4 and bracketed IPv6 addresses with ports.
var peerAddr = regexp.MustCompile(`(\d{1,3}\.){3}\d{1,3}(:\d+)?|\[[0-9a-fA-F:.%]+\](:\d+)?`)

// scrubWriter logs net/http's messages at debug level without peer
// addresses: xftpd never logs client IPs.
type scrubWriter struct{ log *slog.Logger }

func (w scrubWriter) Write(p []byte) (int, error) {
	msg := peerAddr.ReplaceAllString(string(p), "[peer]")
	w.log.Log(context.Background(), slog.LevelDebug, "http server", "msg", msg)
	return len(p), nil
}
