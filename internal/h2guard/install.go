package h2guard

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"

	"golang.org/x/net/http2"
)

// unencryptedHTTP2 is net/http's TLSNextProto key for h2c connections
// with prior knowledge: the *tls.Conn it passes wraps the plain
// connection, which its UnencryptedNetConn method returns.
const unencryptedHTTP2 = "unencrypted_http2"

// Install serves srv's HTTP/2 connections through Wrap, with cfg: over
// TLS (ALPN "h2", and any protocol whose TLSNextProto hands its
// connections to "h2") and, when srv has no TLSConfig, h2c with prior
// knowledge. It replaces net/http's bundled HTTP/2 server with
// golang.org/x/net/http2's (the same code), whose ServeConn accepts a
// wrapped connection; srv.HTTP2's settings, the ConnContext values, r.TLS
// and graceful shutdown are kept. Call it once, after srv's TLS and HTTP/2
// configuration and before serving.
func Install(srv *http.Server, cfg Config) error {
	plain := srv.TLSConfig == nil
	//lint:ignore SA1019 net/http's own HTTP/2 server cannot wrap the connection above TLS; x/net's can (ServeConn)
	h2 := new(http2.Server)
	//lint:ignore SA1019 see above
	if err := http2.ConfigureServer(srv, h2); err != nil {
		return err
	}
	if plain {
		// ConfigureServer made one; without TLS there is none.
		srv.TLSConfig = nil
	}
	serve := func(hs *http.Server, c net.Conn, h http.Handler, sawPreface bool) {
		// As ConfigureServer's own handler: net/http passes the
		// connection's context (with ConnContext's values) through an
		// unadvertised method of h.
		var ctx context.Context
		if bc, ok := h.(interface{ BaseContext() context.Context }); ok {
			ctx = bc.BaseContext()
		}
		//lint:ignore SA1019 see above
		h2.ServeConn(Wrap(c, &cfg, sawPreface), &http2.ServeConnOpts{
			Context: ctx, Handler: h, BaseConfig: hs, SawClientPreface: sawPreface,
		})
	}
	srv.TLSNextProto[http2.NextProtoTLS] = func(hs *http.Server, c *tls.Conn, h http.Handler) {
		serve(hs, c, h, false)
	}
	prev := srv.TLSNextProto[unencryptedHTTP2]
	srv.TLSNextProto[unencryptedHTTP2] = func(hs *http.Server, c *tls.Conn, h http.Handler) {
		u, ok := c.NetConn().(interface{ UnencryptedNetConn() net.Conn })
		if !ok {
			prev(hs, c, h) // refuses it
			return
		}
		serve(hs, u.UnencryptedNetConn(), h, true)
	}
	return nil
}
