package xftpclient

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/xftp/xftp/api/xftp"
	"github.com/xftp/xftp/internal/tailbox"
)

// Options configure a connection.
type Options struct {
	// Web uses the web transport (ALPN h2, web handshake).
	Web bool
	// ServerName is sent as SNI on the web transport (native clients send
	// none); it also selects a relay's web certificate.
	ServerName string
	// Dialer dials TCP (default: a net.Dialer).
	Dialer interface {
		DialContext(ctx context.Context, network, addr string) (net.Conn, error)
	}
	// MaxVersion caps the protocol version asked for (default and at
	// most xftp.VersionMax), to talk as an older client.
	MaxVersion uint16
	// RequestTimeout bounds each command; an FPUT or FGET gets 5 ms more
	// per KiB of chunk, as SimpleX's client allows (default 30 s).
	RequestTimeout time.Duration
}

// ErrIdentity means the server is not the one the address names.
var ErrIdentity = errors.New("xftpclient: the server's identity does not match the address")

// Client is one XFTP session on one connection. Commands are sent one at
// a time, as SimpleX's clients do.
type Client struct {
	addr      xftp.Address
	o         Options
	tc        *tls.Conn
	cc        *http.ClientConn
	sessionID []byte
	version   uint16
	mu        sync.Mutex
}

// Dial connects to addr, checks the server's identity and makes the
// handshake.
func Dial(ctx context.Context, addr xftp.Address, o Options) (*Client, error) {
	if o.Dialer == nil {
		o.Dialer = &net.Dialer{Timeout: 30 * time.Second}
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 30 * time.Second
	}
	raw, err := o.Dialer.DialContext(ctx, "tcp", addr.HostPort())
	if err != nil {
		return nil, err
	}
	c := &Client{addr: addr, o: o}
	if err := c.connect(ctx, raw); err != nil {
		raw.Close()
		return nil, err
	}
	return c, nil
}

func (c *Client) connect(ctx context.Context, raw net.Conn) error {
	cfg := &tls.Config{
		InsecureSkipVerify: true, // the key hash is the trust anchor, checked below
		MinVersion:         tls.VersionTLS12,
		NextProtos:         []string{xftp.ALPN},
		CipherSuites:       []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256},
		VerifyPeerCertificate: func(chain [][]byte, _ [][]*x509.Certificate) error {
			return verifyChain(chain, c.addr.KeyHash)
		},
	}
	if c.o.Web {
		cfg.NextProtos = []string{"h2"}
		cfg.ServerName = c.o.ServerName
		cfg.MinVersion = tls.VersionTLS13
		// A web client's TLS certificate is the web PKI's (a browser
		// checks it); its XFTP identity is proven in the handshake.
		cfg.VerifyPeerCertificate = nil
	}
	c.tc = tls.Client(raw, cfg)
	if err := c.tc.HandshakeContext(ctx); err != nil {
		return err
	}
	st := c.tc.ConnectionState()
	if st.NegotiatedProtocol != cfg.NextProtos[0] {
		return fmt.Errorf("xftpclient: the server did not agree to %s (ALPN %q)", cfg.NextProtos[0], st.NegotiatedProtocol)
	}
	cc, err := h2Conn(ctx, c.tc, c.addr.HostPort())
	if err != nil {
		return err
	}
	c.cc = cc
	return c.handshake(ctx, st)
}

// h2Conn runs HTTP/2 over the established TLS connection tc, whatever its
// ALPN ("xftp/1" is HTTP/2 to XFTP clients): net/http's transport, told
// to speak HTTP/2 with prior knowledge over a connection it sees as plain.
func h2Conn(ctx context.Context, tc *tls.Conn, hostPort string) (*http.ClientConn, error) {
	t := &http.Transport{
		Protocols: new(http.Protocols),
		HTTP2:     &http.HTTP2Config{MaxReadFrameSize: 1 << 20},
		DialContext: func(context.Context, string, string) (net.Conn, error) {
			return plainConn{tc}, nil
		},
	}
	t.Protocols.SetUnencryptedHTTP2(true)
	return t.NewClientConn(ctx, "http", hostPort)
}

// plainConn hides that a connection is TLS (it already is).
type plainConn struct{ net.Conn }

// verifyChain checks a native chain: exactly [leaf, CA], SHA-256(CA) the
// key hash, the leaf an Ed25519 certificate issued by the CA, both valid now.
func verifyChain(chain [][]byte, keyHash [32]byte) error {
	if len(chain) != 2 {
		return fmt.Errorf("%w: %d certificates, want [leaf, CA]", ErrIdentity, len(chain))
	}
	if h := sha256.Sum256(chain[1]); subtle.ConstantTimeCompare(h[:], keyHash[:]) != 1 {
		return fmt.Errorf("%w: CA fingerprint", ErrIdentity)
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return fmt.Errorf("%w: leaf: %v", ErrIdentity, err)
	}
	ca, err := x509.ParseCertificate(chain[1])
	if err != nil {
		return fmt.Errorf("%w: CA: %v", ErrIdentity, err)
	}
	if _, ok := leaf.PublicKey.(ed25519.PublicKey); !ok {
		return fmt.Errorf("%w: the leaf key is not Ed25519", ErrIdentity)
	}
	if err := leaf.CheckSignatureFrom(ca); err != nil {
		return fmt.Errorf("%w: the leaf is not signed by the CA: %v", ErrIdentity, err)
	}
	now := time.Now()
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) || now.Before(ca.NotBefore) || now.After(ca.NotAfter) {
		return fmt.Errorf("%w: a certificate is outside its validity", ErrIdentity)
	}
	return nil
}

func (c *Client) handshake(ctx context.Context, st tls.ConnectionState) error {
	var hello []byte
	var challenge []byte
	hdr := http.Header{}
	if c.o.Web {
		challenge = make([]byte, xftp.ChallengeSize)
		rand.Read(challenge)
		var err error
		if hello, err = xftp.EncodeClientHello(challenge); err != nil {
			return err
		}
		hdr.Set("xftp-web-hello", "1")
	}
	body, err := c.post(ctx, hdr, bytes.NewReader(hello), c.o.RequestTimeout)
	if err != nil {
		return err
	}
	block, err := readAll(body, xftp.BlockSize)
	if err != nil {
		return err
	}
	sh, err := xftp.ParseServerHello(block)
	if err != nil {
		return err
	}
	if err := c.checkHello(sh, st, challenge); err != nil {
		return err
	}
	if sh.MaxVersion < xftp.VersionMin || sh.MinVersion > xftp.VersionMax {
		return fmt.Errorf("xftpclient: no common version (server %d-%d)", sh.MinVersion, sh.MaxVersion)
	}
	want := uint16(xftp.VersionMax)
	if c.o.MaxVersion > 0 && c.o.MaxVersion < want {
		want = c.o.MaxVersion
	}
	c.version = min(sh.MaxVersion, want)
	c.sessionID = sh.SessionID
	hs, err := (&xftp.ClientHandshake{Version: c.version, KeyHash: c.addr.KeyHash[:]}).Encode()
	if err != nil {
		return err
	}
	hdr = http.Header{}
	if c.o.Web {
		hdr.Set("xftp-handshake", "1")
	}
	body, err = c.post(ctx, hdr, bytes.NewReader(hs), c.o.RequestTimeout)
	if err != nil {
		return err
	}
	ack, err := readAll(body, xftp.BlockSize)
	if err != nil {
		return err
	}
	if len(ack) != 0 {
		if msg, err := xftp.Unpad(ack); err == nil {
			if e, err := xftp.ParseError(msg); err == nil {
				return e
			}
		}
		return fmt.Errorf("xftpclient: the handshake's answer is not empty")
	}
	return nil
}

// checkHello checks the server hello as SimpleX's native client does (and,
// for the web, what xftp-web checks plus the leaf's CA signature).
func (c *Client) checkHello(sh *xftp.ServerHello, st tls.ConnectionState, challenge []byte) error {
	if err := verifyChain(sh.CertChain, c.addr.KeyHash); err != nil {
		return err
	}
	leaf, _ := x509.ParseCertificate(sh.CertChain[0])
	leafKey := leaf.PublicKey.(ed25519.PublicKey)
	if c.o.Web {
		if len(sh.IdentityProof) != ed25519.SignatureSize ||
			!ed25519.Verify(leafKey, xftp.IdentityProofMessage(challenge, sh.SessionID), sh.IdentityProof) {
			return fmt.Errorf("%w: identity proof", ErrIdentity)
		}
	} else {
		if !bytes.Equal(sh.SessionID, st.TLSUnique) || len(st.TLSUnique) == 0 {
			return fmt.Errorf("xftpclient: the session ID is not the TLS channel's (tls-unique): a TLS-terminating proxy in between?")
		}
		// The DH key must verify with the TLS peer's leaf key.
		tlsLeaf := st.PeerCertificates[0].PublicKey.(ed25519.PublicKey)
		leafKey = tlsLeaf
	}
	if _, err := xftp.VerifyDHKey(sh.SignedKey, leafKey); err != nil {
		return fmt.Errorf("%w: %v", ErrIdentity, err)
	}
	return nil
}

// Conn is the session's TLS connection.
func (c *Client) Conn() *tls.Conn { return c.tc }

// SessionID is the session's ID.
func (c *Client) SessionID() []byte { return c.sessionID }

// Version is the protocol version agreed on.
func (c *Client) Version() uint16 { return c.version }

// Close closes the connection.
func (c *Client) Close() error {
	if c.cc != nil {
		c.cc.Close()
	}
	return c.tc.Close()
}

// post sends one request and returns its body. The caller closes it.
func (c *Client) post(ctx context.Context, hdr http.Header, body io.Reader, timeout time.Duration) (io.ReadCloser, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+c.addr.HostPort()+"/", body)
	if err != nil {
		cancel()
		return nil, err
	}
	req.Header = hdr
	resp, err := c.cc.RoundTrip(req)
	if err != nil {
		cancel()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("xftpclient: HTTP status %d", resp.StatusCode)
	}
	return cancelOnClose{resp.Body, cancel}, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error { c.cancel(); return c.ReadCloser.Close() }

// readAll reads a body of at most limit bytes and closes it.
func readAll(body io.ReadCloser, limit int64) ([]byte, error) {
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("xftpclient: an answer longer than %d bytes", limit)
	}
	return b, nil
}

// Transmit sends one command (signed with key, if any) about entityID,
// followed by body (FPUT), and returns the response and, for FGET, the
// rest of the answer, which the caller must close. A server's ERR is
// returned as the response, not as an error: this is the low-level call.
func (c *Client) Transmit(ctx context.Context, cmd *xftp.Command, entityID []byte, key ed25519.PrivateKey, body io.Reader, bodySize int64) (*xftp.Response, io.ReadCloser, error) {
	cb, err := cmd.Encode()
	if err != nil {
		return nil, nil, err
	}
	block, err := xftp.EncodeTransmission(c.sessionID, nil, entityID, cb, key)
	if err != nil {
		return nil, nil, err
	}
	return c.TransmitBlock(ctx, block, body, bodySize)
}

// TransmitBlock sends a raw request block (then body) and parses the answer.
func (c *Client) TransmitBlock(ctx context.Context, block []byte, body io.Reader, bodySize int64) (*xftp.Response, io.ReadCloser, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	req := io.Reader(bytes.NewReader(block))
	if body != nil {
		req = io.MultiReader(req, body)
	}
	timeout := c.o.RequestTimeout + time.Duration(bodySize/1024)*5*time.Millisecond
	rb, err := c.post(ctx, http.Header{}, req, timeout)
	if err != nil {
		return nil, nil, err
	}
	head := make([]byte, xftp.BlockSize)
	if _, err := io.ReadFull(rb, head); err != nil {
		rb.Close()
		return nil, nil, fmt.Errorf("xftpclient: reading the answer: %w", err)
	}
	rt, err := xftp.ParseResponseTransmission(head)
	if err != nil {
		rb.Close()
		return nil, nil, err
	}
	if !bytes.Equal(rt.SessionID, c.sessionID) {
		rb.Close()
		return nil, nil, xftp.ErrSession
	}
	if rt.Response.Tag != xftp.FILE {
		rb.Close()
		return rt.Response, nil, nil
	}
	return rt.Response, rb, nil
}

// do runs a command and turns ERR into an error.
func (c *Client) do(ctx context.Context, cmd *xftp.Command, entityID []byte, key ed25519.PrivateKey, body io.Reader, size int64, want string) (*xftp.Response, io.ReadCloser, error) {
	r, rest, err := c.Transmit(ctx, cmd, entityID, key, body, size)
	switch {
	case err != nil:
		return nil, nil, err
	case r.Tag == xftp.ERR:
		return nil, nil, r.Err
	case r.Tag != want:
		if rest != nil {
			rest.Close()
		}
		return nil, nil, fmt.Errorf("xftpclient: unexpected answer %s to %s", r.Tag, cmd.Tag)
	}
	return r, rest, nil
}

// Create makes a chunk (FNEW): its sender ID and one recipient ID per key.
func (c *Client) Create(ctx context.Context, sender ed25519.PrivateKey, size uint32, digest []byte, recipients []ed25519.PublicKey, password string) (senderID []byte, recipientIDs [][]byte, err error) {
	cmd := &xftp.Command{Tag: xftp.FNEW, SenderKey: sender.Public().(ed25519.PublicKey), Size: size, Digest: digest, RecipientKeys: recipients}
	if password != "" {
		cmd.BasicAuth = []byte(password)
	}
	r, _, err := c.do(ctx, cmd, nil, sender, nil, 0, xftp.SIDS)
	if err != nil {
		return nil, nil, err
	}
	return r.SenderID, r.RecipientIDs, nil
}

// AddRecipients adds recipients to a chunk (FADD).
func (c *Client) AddRecipients(ctx context.Context, sender ed25519.PrivateKey, senderID []byte, recipients []ed25519.PublicKey) ([][]byte, error) {
	r, _, err := c.do(ctx, &xftp.Command{Tag: xftp.FADD, RecipientKeys: recipients}, senderID, sender, nil, 0, xftp.RIDS)
	if err != nil {
		return nil, err
	}
	return r.RecipientIDs, nil
}

// Upload sends a chunk's body (FPUT): exactly size bytes of body.
func (c *Client) Upload(ctx context.Context, sender ed25519.PrivateKey, senderID []byte, body io.Reader, size int64) error {
	_, _, err := c.do(ctx, &xftp.Command{Tag: xftp.FPUT}, senderID, sender, io.LimitReader(body, size), size, xftp.OK)
	return err
}

// Download fetches a chunk (FGET) of size bytes into w, decrypting the
// answer sealed for this request. A body that fails its tag is
// xftp.ErrCrypto; w may then hold unverified bytes, which the caller
// discards.
func (c *Client) Download(ctx context.Context, recipient ed25519.PrivateKey, recipientID []byte, size int64, w io.Writer) error {
	dh, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	r, rest, err := c.do(ctx, &xftp.Command{Tag: xftp.FGET, DHKey: dh.PublicKey().Bytes()}, recipientID, recipient, nil, size, xftp.FILE)
	if err != nil {
		return err
	}
	defer rest.Close()
	plain, err := xftp.OpenBody(dh, r.DHKey, r.Nonce, rest, size)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, plain); err != nil {
		if errors.Is(err, tailbox.ErrAuth) {
			return xftp.ErrCrypto
		}
		return fmt.Errorf("xftpclient: receiving the body: %w", err)
	}
	return nil
}

// Delete removes a chunk (FDEL).
func (c *Client) Delete(ctx context.Context, sender ed25519.PrivateKey, senderID []byte) error {
	_, _, err := c.do(ctx, &xftp.Command{Tag: xftp.FDEL}, senderID, sender, nil, 0, xftp.OK)
	return err
}

// Ack acknowledges a download, removing the recipient ID (FACK).
func (c *Client) Ack(ctx context.Context, recipient ed25519.PrivateKey, recipientID []byte) error {
	_, _, err := c.do(ctx, &xftp.Command{Tag: xftp.FACK}, recipientID, recipient, nil, 0, xftp.OK)
	return err
}

// Ping checks the session (PING).
func (c *Client) Ping(ctx context.Context) error {
	_, _, err := c.do(ctx, &xftp.Command{Tag: xftp.PING}, nil, nil, nil, 0, xftp.PONG)
	return err
}
