package httpclient

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/identity"
	"github.com/xftp/xftp/internal/dlcrypt"
	"github.com/xftp/xftp/internal/onion"
	"github.com/xftp/xftp/internal/stream"
)

// FetchProxyKey asks a proxy for its signed proxy key and verifies it
// against the pinned fingerprint.
func (c *Client) FetchProxyKey(ctx context.Context) (*api.ProxyKeyResponse, error) {
	if _, err := c.VerifyIdentity(ctx); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+api.ProxyKeyPath, nil)
	if err != nil {
		return nil, err
	}
	var pk api.ProxyKeyResponse
	if err := c.roundTripJSON(req, &pk); err != nil {
		return nil, err
	}
	if _, err := VerifyProxyKey(&pk, c.addr.Fingerprint); err != nil {
		return nil, err
	}
	return &pk, nil
}

// VerifyProxyKey checks that a proxy key answer comes from the identity
// with fingerprint want and returns the proxy key it vouches for.
func VerifyProxyKey(r *api.ProxyKeyResponse, want identity.Fingerprint) ([]byte, error) {
	pub := ed25519.PublicKey(r.IdentityKey)
	if len(pub) != ed25519.PublicKeySize || !want.Matches(pub) {
		return nil, fmt.Errorf("%w: proxy key answer from another identity (expected %s)", identity.ErrWrongIdentity, want)
	}
	if len(r.ProxyKey) != 32 || !ed25519.Verify(pub, onion.ProxyKeyMessage(r.ProxyKey), r.Signature) {
		return nil, fmt.Errorf("%w: proxy key not signed by the identity", identity.ErrWrongIdentity)
	}
	return r.ProxyKey, nil
}

// Relay sends a sealed layer to the proxy and returns its answer whatever
// the status: 200 carries the sealed answer stream, anything else is the
// proxy's own refusal.
func (c *Client) Relay(ctx context.Context, layer []byte) (*http.Response, error) {
	if _, err := c.VerifyIdentity(ctx); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+api.ProxyPath, bytes.NewReader(layer))
	if err != nil {
		return nil, err
	}
	req.ContentLength = int64(len(layer))
	req.Header.Set("Content-Type", "application/octet-stream")
	return c.hc.Do(req)
}

// Forward sends a request that a client built and signed for this server
// (a proxy's last hop) and returns the answer whatever its status, with
// the server's verified identity key.
func (c *Client) Forward(ctx context.Context, r *onion.Request) (*http.Response, ed25519.PublicKey, error) {
	pub, err := c.VerifyIdentity(ctx)
	if err != nil {
		return nil, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+r.Path, bytes.NewReader(r.Body))
	if err != nil {
		return nil, nil, err
	}
	req.ContentLength = int64(len(r.Body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(api.HeaderAuth, r.Auth)
	resp, err := c.hc.Do(req)
	return resp, pub, err
}

// ProxyError is a failure that the client attributes to a proxy of a
// route: it refused, could not be reached, or changed what it relayed.
type ProxyError struct {
	Proxy api.Address // the proxy named in the message
	Hop   int         // its position on the route, from 0
	// Suspects are the proxies that may be at fault (for a changed
	// answer, the proxy that sealed it and the one before it).
	Suspects []api.Address
	Status   int    // the HTTP status of a refusal
	Code     string // the refusal's code
	// ReportedBy is the hop before, for a refusal it relayed (-1: the
	// client saw it itself).
	ReportedBy int
	Err        error // the cause, for failures other than refusals
}

func (e *ProxyError) Error() string {
	who := fmt.Sprintf("proxy %s (hop %d)", e.Proxy.Redacted(), e.Hop+1)
	if e.Err != nil {
		return fmt.Sprintf("%s failed: %v", who, e.Err)
	}
	what := fmt.Sprintf("refused to forward: HTTP %d (%s)", e.Status, e.Code)
	if c, ok := api.LookupCode(e.Code); ok && c.Hop != "" {
		what = c.Hop
	}
	if e.ReportedBy >= 0 {
		return fmt.Sprintf("%s %s, as reported by hop %d", who, what, e.ReportedBy+1)
	}
	return fmt.Sprintf("%s %s", who, what)
}

func (e *ProxyError) Unwrap() error { return e.Err }

// Temporary reports whether the same proxy may succeed later: for a
// refusal, what api.Codes says of its code.
func (e *ProxyError) Temporary() bool {
	if e.Err != nil {
		// A changed answer or a wrong identity is not bad luck.
		return !errors.Is(e.Err, ErrTransport) && !errors.Is(e.Err, identity.ErrWrongIdentity) && !errors.Is(e.Err, onion.ErrFrame)
	}
	c, ok := api.LookupCode(e.Code)
	return ok && c.Temporary
}

// Is reports whether target is the sentinel of the refusal's code
// (errors.Is(err, api.ErrProxyBusy)).
func (e *ProxyError) Is(target error) bool {
	return e.Code != "" && (&api.Error{Code: e.Code}).Is(target)
}

// ErrDestinationUnreachable means the last proxy could not reach the
// destination server.
var ErrDestinationUnreachable = errors.New("the last proxy could not reach the server")

// ProxyHop is a proxy with its verified proxy key.
type ProxyHop struct {
	Address  api.Address
	ProxyKey []byte
}

// Route downloads through a chain of proxies: it seals each request in
// layers, one per proxy, and unwraps the answer the same way. The first
// proxy sees the client; the destination sees only the last proxy. It is
// safe for concurrent use.
type Route struct {
	first   *Client
	proxies []api.Address
	now     func() time.Time

	mu   sync.Mutex
	keys [][]byte // proxy keys learned so far, in route order
	// skews are the clock offsets learnt from CLOCK answers, per
	// destination: the Date comes through the last proxy, unsigned, so
	// one destination's (or one proxy's) answer must not set the clock
	// for the others.
	skews map[identity.Fingerprint]time.Duration
}

func (rt *Route) skew(dest identity.Fingerprint) time.Duration {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.skews[dest]
}

func (rt *Route) setSkew(dest identity.Fingerprint, d time.Duration) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.skews == nil {
		rt.skews = map[identity.Fingerprint]time.Duration{}
	}
	rt.skews[dest] = d
}

// NewRoute returns a route through proxies, in order; first is the
// Client of proxies[0].
func NewRoute(first *Client, proxies []api.Address, now func() time.Time) *Route {
	if now == nil {
		now = time.Now
	}
	return &Route{first: first, proxies: proxies, now: now}
}

// Proxies returns the route's proxies.
func (rt *Route) Proxies() []api.Address { return rt.proxies }

// proxyKeys learns every proxy's key: the first one's directly, each next
// one through the proxies before it (so no proxy learns more than its
// neighbours), verifying each against its pinned fingerprint.
func (rt *Route) proxyKeys(ctx context.Context) ([][]byte, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if len(rt.keys) == 0 {
		pk, err := rt.first.FetchProxyKey(ctx)
		if err != nil {
			return nil, rt.firstHopError(err)
		}
		rt.keys = append(rt.keys, pk.ProxyKey)
	}
	for k := len(rt.keys); k < len(rt.proxies); k++ {
		a, body, closer, err := rt.exchange(ctx, rt.keys[:k], onion.KindKey, rt.proxies[k], nil)
		if err != nil {
			return nil, err
		}
		var pk api.ProxyKeyResponse
		if a.Status == http.StatusOK {
			err = json.NewDecoder(io.LimitReader(body, 4096)).Decode(&pk)
		}
		closer.Close()
		if a.Status != http.StatusOK || err != nil {
			code := "HTTP_" + strconv.Itoa(a.Status)
			if a.Status == http.StatusNotFound {
				code = api.CodeNotFound
			}
			return nil, &ProxyError{Proxy: rt.proxies[k], Hop: k, Suspects: rt.proxies[k : k+1], Status: a.Status, Code: code, ReportedBy: k - 1}
		}
		key, err := VerifyProxyKey(&pk, rt.proxies[k].Fingerprint)
		if err != nil {
			return nil, &ProxyError{Proxy: rt.proxies[k], Hop: k, Suspects: rt.proxies[k-1 : k+1], ReportedBy: -1, Err: err}
		}
		rt.keys = append(rt.keys, key)
	}
	return rt.keys[:len(rt.keys):len(rt.keys)], nil
}

// firstHopError attributes a failure to reach the first proxy.
func (rt *Route) firstHopError(err error) error {
	var ae *api.Error
	if errors.As(err, &ae) {
		return &ProxyError{Proxy: rt.proxies[0], Suspects: rt.proxies[:1], Status: ae.Status, Code: ae.Code, ReportedBy: -1}
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return &ProxyError{Proxy: rt.proxies[0], Suspects: rt.proxies[:1], ReportedBy: -1, Err: err}
}

// exchange sends an onion through the first n proxies of the route, whose
// last layer (kind) names next and carries payload, and unwraps the
// answer down to the last proxy's Answer. The caller reads the answer's
// body from body and closes closer.
func (rt *Route) exchange(ctx context.Context, keys [][]byte, kind onion.Kind, next api.Address, payload []byte) (*onion.Answer, io.Reader, io.Closer, error) {
	n, finalKind := len(keys), kind
	respKeys := make([][onion.ResponseKeySize]byte, n)
	inner, nextAddr := payload, next.Redacted()
	for i := n - 1; i >= 0; i-- {
		l := onion.Layer{Kind: kind, Next: nextAddr, Inner: inner}
		rand.Read(l.ResponseKey[:])
		respKeys[i] = l.ResponseKey
		sealed, err := onion.Seal(keys[i], &l)
		if err != nil {
			return nil, nil, nil, err
		}
		inner, kind, nextAddr = sealed, onion.KindRelay, rt.proxies[i].Redacted()
	}
	resp, err := rt.first.Relay(ctx, inner)
	if err != nil {
		return nil, nil, nil, rt.firstHopError(err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, nil, rt.firstHopError(readError(resp))
	}
	var r io.Reader = resp.Body
	fail := func(err error) (*onion.Answer, io.Reader, io.Closer, error) {
		resp.Body.Close()
		return nil, nil, nil, err
	}
	for i := 0; i < n; i++ {
		salt := make([]byte, onion.AnswerSaltSize)
		if _, err := io.ReadFull(r, salt); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				err = fmt.Errorf("%w: no answer salt", onion.ErrFrame)
			}
			return fail(rt.frameError(err, i))
		}
		c, err := onion.ResponseCipher(respKeys[i], salt)
		if err != nil {
			return fail(err)
		}
		r = &layerReader{r: stream.NewReader(c, r), hop: i, route: rt.proxies}
		var t [1]byte
		if _, err := io.ReadFull(r, t[:]); err != nil {
			return fail(rt.frameError(err, i))
		}
		last := i == n-1
		switch {
		case t[0] == onion.TypeRelayed && !last:
			continue
		case t[0] == onion.TypeAnswer && last:
			a, err := onion.ReadAnswer(r)
			if err != nil {
				return fail(rt.frameError(err, i))
			}
			return a, io.LimitReader(r, int64(a.BodyLength)), resp.Body, nil
		case t[0] == onion.TypeRefused:
			f, err := onion.ReadRefusal(r)
			if err != nil {
				return fail(rt.frameError(err, i))
			}
			if !last || finalKind == onion.KindKey {
				return fail(&ProxyError{Proxy: rt.proxies[i+1], Hop: i + 1, Suspects: rt.proxies[i+1 : i+2], Status: f.Status, Code: f.Code, ReportedBy: i})
			}
			return fail(fmt.Errorf("%w %s (%s)", ErrDestinationUnreachable, next.Redacted(), f.Code))
		default:
			return fail(&ProxyError{Proxy: rt.proxies[i], Hop: i, Suspects: rt.proxies[i : i+1], ReportedBy: -1,
				Err: fmt.Errorf("%w: unexpected answer type %d", onion.ErrFrame, t[0])})
		}
	}
	return fail(errors.New("onion: empty route"))
}

// frameError attributes an error reading hop i's layer.
func (rt *Route) frameError(err error, i int) error {
	var pe *ProxyError
	if errors.As(err, &pe) {
		return err
	}
	if errors.Is(err, onion.ErrFrame) {
		return &ProxyError{Proxy: rt.proxies[i], Hop: i, Suspects: rt.proxies[i : i+1], ReportedBy: -1, Err: err}
	}
	return err // the connection failed
}

// layerReader reads one hop's sealed layer and turns its authentication
// failure into a ProxyError naming that hop.
type layerReader struct {
	r     io.Reader
	hop   int
	route []api.Address
}

func (l *layerReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if err != nil && errors.Is(err, stream.ErrAuth) {
		err = tampered(l.route, l.hop)
	}
	return n, err
}

// tampered is the error of an answer that failed authentication in hop's
// layer: the proxy that sealed it, or the one before it that relayed it,
// changed it (the links between them are pinned TLS).
func tampered(route []api.Address, hop int) *ProxyError {
	return &ProxyError{Proxy: route[hop], Hop: hop, Suspects: route[max(hop-1, 0) : hop+1], ReportedBy: -1,
		Err: fmt.Errorf("%w: the answer relayed through this proxy was changed on the way", ErrTransport)}
}

// Download fetches a chunk from dest through the route. The request is the
// one Client.Download sends, signed for dest; the answer is checked the
// same way (dest's key signature against its pinned fingerprint, STREAM
// authentication, length), and each proxy's layer is authenticated too.
func (rt *Route) Download(ctx context.Context, dest api.Address, recipientID []byte, recipient ed25519.PrivateKey, size int64) (io.ReadCloser, error) {
	ck, err := dlcrypt.NewClientKey()
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(api.DownloadRequest{Key: ck.Public()})
	if err != nil {
		return nil, err
	}
	a, r, closer, err := rt.request(ctx, dest, chunkPath(recipientID, "/download"), recipientID, recipient, body)
	if err != nil {
		return nil, err
	}
	last := len(rt.proxies) - 1
	lastErr := func(format string, args ...any) error {
		closer.Close()
		return &ProxyError{Proxy: rt.proxies[last], Hop: last, Suspects: rt.proxies[last:], ReportedBy: -1,
			Err: fmt.Errorf("%w: "+format, append([]any{ErrTransport}, args...)...)}
	}
	if !ed25519.Verify(a.Identity, dlcrypt.KeyMessage(a.ServerKey, ck.Public()), a.KeySignature) {
		return nil, lastErr("the server's download key is not signed by its identity")
	}
	ci, err := ck.Cipher(a.ServerKey)
	if err != nil {
		return nil, lastErr("%v", err)
	}
	if want := ci.CiphertextSize(size); a.BodyLength != uint64(want) {
		return nil, lastErr("server sends %d bytes, want %d", a.BodyLength, want)
	}
	dr := &downloadReader{r: stream.NewReader(ci, r), body: closer, left: size}
	return &routeReader{dr: dr, route: rt.proxies}, nil
}

// routeReader blames the last proxy when the destination's own stream
// fails authentication: only it could have changed it.
type routeReader struct {
	dr    *downloadReader
	route []api.Address
}

func (r *routeReader) Read(p []byte) (int, error) {
	n, err := r.dr.Read(p)
	var pe *ProxyError
	if err != nil && errors.Is(err, ErrTransport) && !errors.As(err, &pe) {
		last := len(r.route) - 1
		err = &ProxyError{Proxy: r.route[last], Hop: last, Suspects: r.route[last:], ReportedBy: -1, Err: err}
	}
	return n, err
}

func (r *routeReader) Close() error { return r.dr.Close() }

// Ack acknowledges a chunk on dest through the route.
func (rt *Route) Ack(ctx context.Context, dest api.Address, recipientID []byte, recipient ed25519.PrivateKey) error {
	_, _, closer, err := rt.request(ctx, dest, chunkPath(recipientID, "/ack"), recipientID, recipient, []byte{})
	if err != nil {
		return err
	}
	return closer.Close()
}

// Report sends an abuse report about a chunk to dest through the route,
// signed by the recipient key as a direct report is.
func (rt *Route) Report(ctx context.Context, dest api.Address, recipientID []byte, recipient ed25519.PrivateKey, reason, contact string) error {
	body, err := json.Marshal(api.ReportRequest{Reason: reason, Contact: contact})
	if err != nil {
		return err
	}
	_, _, closer, err := rt.request(ctx, dest, chunkPath(recipientID, "/report"), recipientID, recipient, body)
	if err != nil {
		return err
	}
	return closer.Close()
}

// request signs a request for dest, sends it through the route and
// returns a 200 answer; other answers become errors as for a direct
// request (a 451's record is verified against dest's fingerprint).
func (rt *Route) request(ctx context.Context, dest api.Address, path string, chunkID []byte, key ed25519.PrivateKey, body []byte) (*onion.Answer, io.Reader, io.Closer, error) {
	keys, err := rt.proxyKeys(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	for attempt := 0; ; attempt++ {
		clock := rt.now().Add(rt.skew(dest.Fingerprint))
		auth := api.Sign(key, dest.Fingerprint, http.MethodPost, path, api.BodyHash(body), clock).String()
		req := onion.Request{Path: path, Auth: auth, Body: body}
		a, r, closer, err := rt.exchange(ctx, keys, onion.KindRequest, dest, req.Marshal())
		if err != nil {
			return nil, nil, nil, err
		}
		if !dest.Fingerprint.Matches(a.Identity) {
			closer.Close()
			last := len(rt.proxies) - 1
			return nil, nil, nil, &ProxyError{Proxy: rt.proxies[last], Hop: last, Suspects: rt.proxies[last:], ReportedBy: -1,
				Err: fmt.Errorf("%w: it relayed an answer from another server than %s", ErrTransport, dest.Redacted())}
		}
		if a.Status == http.StatusOK {
			return a, r, closer, nil
		}
		// An error answer: read it like a direct one.
		b, rerr := io.ReadAll(io.LimitReader(r, maxBlockedBody+1))
		closer.Close()
		if rerr != nil {
			return nil, nil, nil, rerr
		}
		resp := &http.Response{StatusCode: a.Status, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(b))}
		if a.RetryAfter > 0 {
			resp.Header.Set("Retry-After", strconv.Itoa(int(a.RetryAfter)))
		}
		if a.Status == api.StatusBlocked {
			return nil, nil, nil, (&Client{addr: dest}).blocked(resp, chunkID)
		}
		apiErr := readError(resp)
		if apiErr.Code == api.CodeClock && a.Date > 0 {
			rt.setSkew(dest.Fingerprint, time.Unix(a.Date, 0).Sub(rt.now()))
			if attempt == 0 {
				continue
			}
		}
		return nil, nil, nil, apiErr
	}
}
