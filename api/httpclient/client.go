package httpclient

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/identity"
	"github.com/xftp/xftp/internal/dlcrypt"
	"github.com/xftp/xftp/internal/stream"
)

// ClientOptions configure a Client.
type ClientOptions struct {
	// RootCAs verify a web certificate when TLS is terminated by a reverse
	// proxy; nil means the system roots.
	RootCAs *x509.CertPool
	// Now defaults to time.Now.
	Now func() time.Time
	// Dial, if set, replaces the network dialer (tests, SOCKS).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Client talks to one server. It pins the server's identity: before any
// command is sent, the server must prove it holds the key whose fingerprint
// is in the address. It is safe for concurrent use.
type Client struct {
	addr api.Address
	hc   *http.Client
	base string
	now  func() time.Time
	skew atomic.Int64 // server clock minus ours, ns
	// noOneStep is set once the server refused PUT /v1/chunks (405).
	noOneStep atomic.Bool

	mu       sync.Mutex
	identity ed25519.PublicKey // set once the identity is verified
}

// NewClient returns a Client for addr.
func NewClient(addr api.Address, o ClientOptions) *Client {
	if o.Now == nil {
		o.Now = time.Now
	}
	c := &Client{addr: addr, base: "https://" + addr.Host, now: o.Now}
	tlsConf := &tls.Config{
		MinVersion: tls.VersionTLS13,
		NextProtos: []string{"h2", "http/1.1"},
		// Trust comes from the pinned fingerprint, checked in
		// VerifyConnection, or from the web PKI plus an identity challenge.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyConnection(addr.Fingerprint, addr.WebTLS, o.RootCAs, cs)
		},
	}
	tr := &http.Transport{
		TLSClientConfig:       tlsConf,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   4,
		Proxy:                 nil, // never leak requests to an environment proxy
		// Windows big enough to keep a loopback or LAN path busy, small
		// enough that a client talking to many servers at once keeps its
		// memory bounded (a stream buffers at most 4 MiB, a connection 8).
		HTTP2: &http.HTTP2Config{
			MaxReadFrameSize:              1 << 20,
			MaxReceiveBufferPerConnection: 8 << 20,
			MaxReceiveBufferPerStream:     4 << 20,
			SendPingTimeout:               30 * time.Second,
			PingTimeout:                   15 * time.Second,
		},
	}
	if o.Dial != nil {
		tr.DialContext = o.Dial
	} else {
		tr.DialContext = (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	c.hc = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return errors.New("the server answered with a redirect, which xftp does not follow")
	}}
	return c
}

// verifyConnection accepts a TLS peer that presents the pinned key itself,
// or, only for addresses marked tls=web, a certificate valid under the web
// PKI for the host name (a reverse proxy in front of the server); the
// identity is then proved by the challenge that precedes every first
// command, and every download key is signed by it.
func verifyConnection(want identity.Fingerprint, webTLS bool, roots *x509.CertPool, cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return fmt.Errorf("%w: no certificate", identity.ErrWrongIdentity)
	}
	leaf := cs.PeerCertificates[0]
	if pub, ok := leaf.PublicKey.(ed25519.PublicKey); ok && want.Matches(pub) {
		return nil
	}
	if !webTLS {
		return fmt.Errorf("%w: the server presented another key (a reverse proxy terminating TLS needs ?tls=web in the address)", identity.ErrWrongIdentity)
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: cs.ServerName}); err != nil {
		return fmt.Errorf("%w: the certificate presented is neither the pinned key nor valid for %s", identity.ErrWrongIdentity, cs.ServerName)
	}
	return nil
}

// Address returns the server's address.
func (c *Client) Address() api.Address { return c.addr }

// Close releases idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// VerifyIdentity makes the server prove that it holds the pinned identity
// key, once per Client; every command calls it first.
func (c *Client) VerifyIdentity(ctx context.Context) (ed25519.PublicKey, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.identity != nil {
		return c.identity, nil
	}
	ch := make([]byte, 32)
	rand.Read(ch)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/identity?challenge="+enc.EncodeToString(ch), nil)
	if err != nil {
		return nil, err
	}
	var ir api.IdentityResponse
	if err := c.roundTripJSON(req, &ir); err != nil {
		return nil, err
	}
	pub := ed25519.PublicKey(ir.PublicKey)
	if err := identity.VerifyChallenge(c.addr.Fingerprint, pub, ch, ir.Signature); err != nil {
		return nil, err
	}
	c.identity = pub
	return pub, nil
}

func (c *Client) clock() time.Time { return c.now().Add(time.Duration(c.skew.Load())) }

// send is do for a request about no chunk.
func (c *Client) send(ctx context.Context, method, path string, key ed25519.PrivateKey, jsonBody []byte, upload io.Reader, size int64) (*http.Response, error) {
	return c.do(ctx, outgoing{method: method, path: path, key: key, json: jsonBody, upload: upload, size: size})
}

// outgoing is one signed request.
type outgoing struct {
	method, path string
	// about is the chunk ID (or create digest) a 451 answer must be about.
	about []byte
	key   ed25519.PrivateKey
	// The body: JSON, signed by its hash, or else an upload stream of size
	// bytes, unsigned (bound by the digest given at create).
	json   []byte
	upload io.Reader
	size   int64
	// signed, with an upload, is what the signature covers by hash instead
	// (the create request that starts the body of PUT /v1/chunks).
	signed []byte
}

// do signs and sends one request and returns the successful response. A
// CLOCK refusal is retried once with the server's clock. A 451 answer
// becomes *blocklist.BlockedError only if its record verifies for o.about.
func (c *Client) do(ctx context.Context, o outgoing) (*http.Response, error) {
	if _, err := c.VerifyIdentity(ctx); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		var body io.Reader
		hash, size := api.UnsignedBody, o.size
		switch {
		case o.upload != nil:
			body = o.upload
			if o.signed != nil {
				hash = api.BodyHash(o.signed)
			}
		default:
			body = bytes.NewReader(o.json)
			size = int64(len(o.json))
			hash = api.BodyHash(o.json)
		}
		req, err := http.NewRequestWithContext(ctx, o.method, c.base+o.path, body)
		if err != nil {
			return nil, err
		}
		req.ContentLength = size
		if o.upload == nil {
			req.Header.Set("Content-Type", "application/json")
		} else {
			req.Header.Set("Content-Type", "application/octet-stream")
		}
		req.Header.Set(api.HeaderAuth, api.Sign(o.key, c.addr.Fingerprint, o.method, o.path, hash, c.clock()).String())
		resp, err := c.hc.Do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode == http.StatusOK {
			return resp, nil
		}
		if resp.StatusCode == api.StatusBlocked {
			return nil, c.blocked(resp, o.about)
		}
		apiErr := readError(resp)
		if apiErr.Code == api.CodeClock {
			// Learn the server's clock; retry at once unless the body (an
			// upload stream) is spent: the caller's retry then succeeds.
			if t, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
				c.skew.Store(int64(t.Sub(c.now())))
				if attempt == 0 && o.upload == nil {
					continue
				}
			}
		}
		return nil, apiErr
	}
}

func readError(resp *http.Response) *api.Error {
	defer resp.Body.Close()
	e := &api.Error{Status: resp.StatusCode, RetryAfter: api.ParseRetryAfter(resp.Header.Get("Retry-After"))}
	var er api.ErrorResponse
	if json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&er) == nil {
		e.Code = er.Error
	}
	switch {
	case e.Code != "":
	case resp.StatusCode == http.StatusServiceUnavailable:
		// A relay refuses work under load with a 503 without a body
		// (docs/PROTOCOL.md §7).
		e.Code = api.CodeUnavailable
	default:
		e.Code = fmt.Sprintf("HTTP_%d", resp.StatusCode)
	}
	return e
}

func (c *Client) roundTripJSON(req *http.Request, out any) error {
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return readError(resp)
	}
	return decodeJSON(resp, out)
}

func decodeJSON(resp *http.Response, out any) error {
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, api.MaxJSONBody)).Decode(out); err != nil {
		return fmt.Errorf("malformed answer from server: %w", err)
	}
	return nil
}

func (c *Client) sendJSON(ctx context.Context, method, path string, chunkID []byte, key ed25519.PrivateKey, in, out any) error {
	body := []byte{}
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	resp, err := c.do(ctx, outgoing{method: method, path: path, about: chunkID, key: key, json: body})
	if err != nil {
		return err
	}
	if out == nil {
		resp.Body.Close()
		return nil
	}
	return decodeJSON(resp, out)
}

func chunkPath(id []byte, suffix string) string {
	return "/v1/chunks/" + enc.EncodeToString(id) + suffix
}

// Created is the answer to Create.
type Created struct {
	SenderID     []byte
	RecipientIDs [][]byte
	ExpiresAt    time.Time
}

// Create registers a chunk of the given size and digest, signed by the new
// sender key, with one recipient ID per recipient key.
func (c *Client) Create(ctx context.Context, sender ed25519.PrivateKey, size int64, digest [32]byte, recipients []ed25519.PublicKey) (*Created, error) {
	body, err := json.Marshal(c.createRequest(sender, size, digest, recipients))
	if err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, outgoing{method: http.MethodPost, path: "/v1/chunks", about: digest[:], key: sender, json: body})
	if err != nil {
		return nil, err
	}
	return decodeCreated(resp, len(recipients))
}

// ErrOneStep means CreateUploaded cannot be used: the server (or a proxy
// in front of it) does not offer PUT /v1/chunks. Use Create and Upload
// instead; nothing was created.
var ErrOneStep = errors.New("create and upload in one request: not offered by this server")

// CreateUploaded creates a chunk and uploads its body (exactly size bytes)
// in one request, PUT /v1/chunks: one round trip, one signature and one
// nonce instead of two of each. Nothing is kept unless the whole verified
// body is. It fails with ErrOneStep, remembered for this Client, if the
// server does not offer it.
func (c *Client) CreateUploaded(ctx context.Context, sender ed25519.PrivateKey, size int64, digest [32]byte, recipients []ed25519.PublicKey, body io.Reader) (*Created, error) {
	if c.noOneStep.Load() {
		return nil, ErrOneStep
	}
	js, err := json.Marshal(c.createRequest(sender, size, digest, recipients))
	if err != nil {
		return nil, err
	}
	prefix := api.AppendCreatePrefix(nil, js)
	resp, err := c.do(ctx, outgoing{method: http.MethodPut, path: "/v1/chunks", about: digest[:], key: sender,
		upload: io.MultiReader(bytes.NewReader(prefix), body), size: int64(len(prefix)) + size, signed: js})
	var ae *api.Error
	if errors.As(err, &ae) && ae.Status == http.StatusMethodNotAllowed {
		c.noOneStep.Store(true)
		return nil, ErrOneStep
	}
	if err != nil {
		return nil, err
	}
	return decodeCreated(resp, len(recipients))
}

func (c *Client) createRequest(sender ed25519.PrivateKey, size int64, digest [32]byte, recipients []ed25519.PublicKey) api.CreateRequest {
	req := api.CreateRequest{
		SenderKey: api.B64(sender.Public().(ed25519.PublicKey)), Size: size, Digest: digest[:], Password: c.addr.Password,
	}
	for _, k := range recipients {
		req.RecipientKeys = append(req.RecipientKeys, api.B64(k))
	}
	return req
}

func decodeCreated(resp *http.Response, recipients int) (*Created, error) {
	var cr api.CreateResponse
	if err := decodeJSON(resp, &cr); err != nil {
		return nil, err
	}
	if len(cr.SenderID) == 0 || len(cr.RecipientIDs) != recipients {
		return nil, errors.New("malformed answer from server: wrong number of IDs")
	}
	out := &Created{SenderID: cr.SenderID, ExpiresAt: time.Unix(cr.ExpiresAt, 0)}
	for _, id := range cr.RecipientIDs {
		out.RecipientIDs = append(out.RecipientIDs, id)
	}
	return out, nil
}

// Upload sends the chunk body: exactly size bytes from body.
func (c *Client) Upload(ctx context.Context, senderID []byte, sender ed25519.PrivateKey, body io.Reader, size int64) error {
	resp, err := c.do(ctx, outgoing{method: http.MethodPut, path: chunkPath(senderID, ""), about: senderID, key: sender, upload: body, size: size})
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// AddRecipients adds recipient IDs to a chunk.
func (c *Client) AddRecipients(ctx context.Context, senderID []byte, sender ed25519.PrivateKey, recipients []ed25519.PublicKey) ([][]byte, error) {
	req := api.RecipientsRequest{}
	for _, k := range recipients {
		req.RecipientKeys = append(req.RecipientKeys, api.B64(k))
	}
	var resp api.RecipientsResponse
	if err := c.sendJSON(ctx, http.MethodPost, chunkPath(senderID, "/recipients"), senderID, sender, req, &resp); err != nil {
		return nil, err
	}
	if len(resp.RecipientIDs) != len(recipients) {
		return nil, errors.New("malformed answer from server: wrong number of IDs")
	}
	out := make([][]byte, len(resp.RecipientIDs))
	for i, id := range resp.RecipientIDs {
		out[i] = id
	}
	return out, nil
}

// Delete removes a chunk.
func (c *Client) Delete(ctx context.Context, senderID []byte, sender ed25519.PrivateKey) error {
	return c.sendJSON(ctx, http.MethodDelete, chunkPath(senderID, ""), senderID, sender, nil, nil)
}

// Ack tells the server this recipient is done with the chunk.
func (c *Client) Ack(ctx context.Context, recipientID []byte, recipient ed25519.PrivateKey) error {
	return c.sendJSON(ctx, http.MethodPost, chunkPath(recipientID, "/ack"), recipientID, recipient, nil, nil)
}

// ErrTransport means a download's transport encryption failed: the server
// or something on the path changed the bytes, or the stream was cut.
var ErrTransport = errors.New("download stream failed authentication")

// Download fetches a chunk of the given stored size, sealed for this
// request, and returns a reader of the stored bytes. The server's ephemeral
// key must be signed by the pinned identity. Reading fails (rather than
// ending early) if the stream was cut or changed.
func (c *Client) Download(ctx context.Context, recipientID []byte, recipient ed25519.PrivateKey, size int64) (io.ReadCloser, error) {
	pub, err := c.VerifyIdentity(ctx)
	if err != nil {
		return nil, err
	}
	ck, err := dlcrypt.NewClientKey()
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(api.DownloadRequest{Key: ck.Public()})
	if err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, outgoing{method: http.MethodPost, path: chunkPath(recipientID, "/download"), about: recipientID, key: recipient, json: body})
	if err != nil {
		return nil, err
	}
	serverKey, err1 := enc.DecodeString(resp.Header.Get(api.HeaderServerKey))
	sig, err2 := enc.DecodeString(resp.Header.Get(api.HeaderKeySignature))
	if err1 != nil || err2 != nil || !ed25519.Verify(pub, dlcrypt.KeyMessage(serverKey, ck.Public()), sig) {
		resp.Body.Close()
		return nil, fmt.Errorf("%w: the server's download key is not signed by its identity", ErrTransport)
	}
	ci, err := ck.Cipher(serverKey)
	if err != nil {
		resp.Body.Close()
		return nil, fmt.Errorf("%w: %v", ErrTransport, err)
	}
	if want := ci.CiphertextSize(size); resp.ContentLength != want {
		resp.Body.Close()
		return nil, fmt.Errorf("%w: server sends %d bytes, want %d", ErrTransport, resp.ContentLength, want)
	}
	return &downloadReader{r: stream.NewReader(ci, resp.Body), body: resp.Body, left: size}, nil
}

type downloadReader struct {
	r    io.Reader
	body io.Closer
	left int64
}

func (d *downloadReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	d.left -= int64(n)
	switch {
	case errors.Is(err, stream.ErrAuth):
		return n, ErrTransport
	case err == io.EOF && d.left != 0, d.left < 0:
		return n, fmt.Errorf("%w: wrong length", ErrTransport)
	}
	return n, err
}

func (d *downloadReader) Close() error { return d.body.Close() }

// Ping checks that the server answers and returns what it accepts.
func (c *Client) Ping(ctx context.Context) (*api.ServerInfo, error) {
	if _, err := c.VerifyIdentity(ctx); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/ping", nil)
	if err != nil {
		return nil, err
	}
	var info api.ServerInfo
	if err := c.roundTripJSON(req, &info); err != nil {
		return nil, err
	}
	return &info, nil
}

// enc is the wire's unpadded base64url, strict.
var enc = base64.RawURLEncoding.Strict()
