package xftpserver

import (
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/xftp/xftp/api/xftp"
	"github.com/xftp/xftp/server"
)

// DefaultUploadTimeout is how long an FPUT body may take, as SimpleX's
// server allows.
const DefaultUploadTimeout = 5 * time.Minute

// Options configure a Binding.
type Options struct {
	Logger *slog.Logger
	// Observe, if set, is called once per request with the command (or
	// "handshake"), the XFTP result ("OK" or an error code) and the time
	// taken. It never sees IDs, keys or addresses.
	Observe func(command, result string, d time.Duration)
	// UploadTimeout bounds each FPUT body (default DefaultUploadTimeout).
	UploadTimeout time.Duration
}

// Binding serves XFTP over a Service.
type Binding struct {
	svc   *server.Service
	creds *Credentials
	log   *slog.Logger
	o     Options
	// bufs holds the 256 KiB buffers FGET answers are copied with: one
	// allocated per download was four times a 64 KiB chunk in garbage.
	bufs sync.Pool
	// blocks holds 16 KiB block buffers: each request's first block is
	// read into one and each answer's block encoded into one (an FNEW and
	// FPUT pair allocated 64 KiB of blocks, as much as its 64 KiB chunk).
	blocks sync.Pool
}

// New returns the XFTP binding of svc with the identity creds.
func New(svc *server.Service, creds *Credentials, o Options) *Binding {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.UploadTimeout <= 0 {
		o.UploadTimeout = DefaultUploadTimeout
	}
	b := &Binding{svc: svc, creds: creds, log: o.Logger, o: o}
	b.bufs.New = func() any { buf := make([]byte, 256<<10); return &buf }
	b.blocks.New = func() any { buf := make([]byte, xftp.BlockSize); return &buf }
	return b
}

// Credentials returns the binding's XFTP identity.
func (b *Binding) Credentials() *Credentials { return b.creds }

// NativeTLS is the TLS configuration for connections that offer ALPN
// xftp/1 (SimpleX's native clients): TLS 1.2, whose tls-unique they bind,
// with the one suite they offer for it and leaf's chain [leaf, CA].
func NativeTLS(leaf tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:             tls.VersionTLS12,
		MaxVersion:             tls.VersionTLS12,
		CipherSuites:           []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256},
		CurvePreferences:       []tls.CurveID{tls.X25519},
		Certificates:           []tls.Certificate{leaf},
		NextProtos:             []string{xftp.ALPN},
		SessionTicketsDisabled: true, // a resumed session has no fresh tls-unique
	}
}

// ServeNative makes srv (TLS configured, not yet serving) give connections
// that offer ALPN xftp/1 the NativeTLS configuration, and serve HTTP/2 on
// them (native clients speak it with prior knowledge) with srv's handler.
func ServeNative(srv *http.Server, leaf tls.Certificate) {
	native := NativeTLS(leaf)
	c := srv.TLSConfig
	prev := c.GetConfigForClient
	c.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		if slices.Contains(h.SupportedProtos, xftp.ALPN) {
			return native, nil
		}
		if prev != nil {
			return prev(h)
		}
		return nil, nil
	}
	if srv.TLSNextProto == nil {
		srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}
	// net/http's own HTTP/2 server, which srv sets up under "h2" when it
	// starts serving.
	srv.TLSNextProto[xftp.ALPN] = func(s *http.Server, c *tls.Conn, h http.Handler) {
		if h2 := s.TLSNextProto["h2"]; h2 != nil {
			h2(s, c, h)
			return
		}
		c.Close()
	}
}

// Configure adds XFTP to srv, next to what it serves already:
//   - connections offering ALPN xftp/1 get the native TLS configuration
//     and HTTP/2 on it (srv must use TLS for this; without TLS, behind a
//     reverse proxy, only web clients can be served);
//   - every connection gets its XFTP session state (ConnContext);
//   - requests on xftp/1 connections, and HTTP/2 POST and OPTIONS
//     requests for "/", go to XFTP; everything else to srv's handler.
//
// Call it after srv's TLS configuration is complete and before serving.
func (b *Binding) Configure(srv *http.Server) {
	if srv.TLSConfig != nil {
		ServeNative(srv, b.creds.Leaf)
	}
	prevCtx := srv.ConnContext
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if prevCtx != nil {
			ctx = prevCtx(ctx, c)
		}
		return context.WithValue(ctx, sessionKey{}, new(session))
	}
	srv.Handler = b.Wrap(srv.Handler)
}

// Wrap returns a handler that serves XFTP requests and passes the rest to next.
func (b *Binding) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		native := r.TLS != nil && r.TLS.NegotiatedProtocol == xftp.ALPN
		web := r.ProtoMajor == 2 && r.URL.Path == "/" && (r.Method == http.MethodPost || r.Method == http.MethodOptions)
		if !native && !web {
			next.ServeHTTP(w, r)
			return
		}
		sess, _ := r.Context().Value(sessionKey{}).(*session)
		if sess == nil {
			http.Error(w, "XFTP sessions need Binding.Configure", http.StatusInternalServerError)
			return
		}
		b.serve(w, r, sess, native)
	})
}

type sessionKey struct{}

// Session states, per connection.
const (
	stateNone      = iota // nothing yet
	stateHelloSent        // the server hello went out
	stateAccepted         // the client handshake was accepted
)

// session is one connection's XFTP state.
type session struct {
	mu      sync.Mutex
	id      []byte // the session ID: tls-unique (native) or random (web)
	state   int
	dh      *ecdh.PrivateKey // the handshake's X25519 key (sent, unused by XFTP clients)
	version uint16
}

func (b *Binding) serve(w http.ResponseWriter, r *http.Request, sess *session, native bool) {
	start := time.Now()
	h := w.Header()
	if !native {
		// Browsers on other origins read every answer (XFTP-WIRE §1.1).
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Expose-Headers", "*")
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "*")
			h.Set("Access-Control-Max-Age", "86400")
			w.WriteHeader(http.StatusOK)
			return
		}
	}
	bp := b.blocks.Get().(*[]byte)
	release := sync.OnceFunc(func() { b.blocks.Put(bp) })
	defer release()
	head, err := readHead(r.Body, *bp)
	if err != nil {
		return // the client went away
	}
	webHello := !native && r.Header.Get("xftp-web-hello") != ""
	webHandshake := !native && r.Header.Get("xftp-handshake") != ""

	sess.mu.Lock()
	if sess.id == nil {
		if native {
			sess.id = r.TLS.TLSUnique
		}
		if len(sess.id) == 0 { // web, or a connection without tls-unique
			sess.id = make([]byte, 32)
			rand.Read(sess.id)
		}
	}
	var herr *xftp.Error
	handled := true
	switch {
	case sess.state == stateNone && !native && !webHello:
		herr = xftp.ErrSession
	case sess.state == stateNone, webHello:
		herr = b.hello(w, sess, head, native)
	case sess.state == stateHelloSent, sess.state == stateAccepted && webHandshake:
		herr = b.clientHandshake(w, sess, head)
	default:
		handled = false
	}
	id, version := sess.id, sess.version
	sess.mu.Unlock()
	if handled {
		if herr != nil {
			w.Write(xftp.EncodeHandshakeError(herr))
			b.observe("handshake", herr.Code, start)
		} else {
			b.observe("handshake", xftp.OK, start)
		}
		return
	}
	// The command's fields are copied out of the block (Clone), whose
	// buffer goes back to the pool before the command runs.
	t, perr := parseBlock(head)
	release()
	cmd, result := b.command(w, r, id, version, t, perr)
	b.observe(cmd, result, start)
}

func (b *Binding) observe(cmd, result string, start time.Time) {
	if b.o.Observe != nil {
		b.o.Observe(cmd, result, time.Since(start))
	}
}

// readHead reads the body's first block into buf (BlockSize bytes), or
// less if the body is shorter.
func readHead(body io.Reader, buf []byte) ([]byte, error) {
	head := buf[:xftp.BlockSize]
	n, err := io.ReadFull(body, head)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		err = nil
	}
	return head[:n], err
}

// hello answers a client hello: empty for native clients, a padded
// challenge for web ones. A repeated web hello reuses the session's key.
func (b *Binding) hello(w http.ResponseWriter, sess *session, head []byte, native bool) *xftp.Error {
	var challenge []byte
	switch {
	case len(head) == 0:
	case native:
		return xftp.ErrHandshake
	default:
		ch, err := xftp.ParseClientHello(head)
		if err != nil {
			return xftp.ErrHandshake
		}
		challenge = ch
	}
	if sess.dh == nil {
		k, err := ecdh.X25519().GenerateKey(rand.Reader)
		if err != nil {
			return xftp.ErrInternal
		}
		sess.dh = k
	}
	hello := &xftp.ServerHello{
		MinVersion: xftp.VersionMin, MaxVersion: xftp.VersionMax, SessionID: sess.id,
		CertChain: b.creds.Leaf.Certificate,
		SignedKey: xftp.SignDHKey(b.creds.LeafKey, sess.dh.PublicKey().Bytes()),
	}
	if challenge != nil {
		hello.IdentityProof = ed25519.Sign(b.creds.LeafKey, xftp.IdentityProofMessage(challenge, sess.id))
	}
	block, err := hello.Encode()
	if err != nil {
		return xftp.ErrInternal
	}
	sess.state = stateHelloSent
	w.Write(block)
	return nil
}

// clientHandshake accepts the client's version and key hash; the answer
// is an empty body.
func (b *Binding) clientHandshake(w http.ResponseWriter, sess *session, head []byte) *xftp.Error {
	h, err := xftp.ParseClientHandshake(head)
	if err != nil || subtle.ConstantTimeCompare(h.KeyHash, b.creds.KeyHash[:]) != 1 ||
		h.Version < xftp.VersionMin || h.Version > xftp.VersionMax {
		return xftp.ErrHandshake
	}
	sess.state, sess.version = stateAccepted, h.Version
	w.WriteHeader(http.StatusOK)
	return nil
}
