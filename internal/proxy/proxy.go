package proxy

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/api/httpclient"
	"github.com/xftp/xftp/api/httpserver"
	"github.com/xftp/xftp/identity"
	"github.com/xftp/xftp/internal/onion"
	"github.com/xftp/xftp/internal/stream"
	"github.com/xftp/xftp/server"
)

// Events the forwarder counts (no IDs, no addresses).
const (
	// EventForwarded counts requests forwarded to a next hop (one per
	// proxy hop); its bytes are the answer bytes relayed back.
	EventForwarded server.Event = "proxy_forwarded"
	// EventRefused counts requests the proxy refused or could not forward.
	EventRefused server.Event = "proxy_refused"
)

// Options configure a Forwarder.
type Options struct {
	Identity *identity.Identity
	// Allow, if not empty, lists the only next hops (proxies and
	// destination servers, by fingerprint) the proxy forwards to.
	Allow []identity.Fingerprint
	// MaxConcurrent caps requests in flight (default 64).
	MaxConcurrent int
	// MaxConcurrentPerSource caps one source address's requests in flight
	// (default a quarter of MaxConcurrent), so that one source cannot take
	// every slot.
	MaxConcurrentPerSource int
	// RatePerMinute caps requests per source address (0: no limit).
	RatePerMinute int
	// MaxBody caps an answer body relayed back (default and at most
	// onion.MaxAnswerBody).
	MaxBody int64
	// Timeout bounds one forwarded request, answer included (default 5m).
	Timeout time.Duration
	// ClientOptions configure connections to next hops (Dial sets the
	// outgoing source address).
	ClientOptions httpclient.ClientOptions
	Metrics       server.Metrics
	Logger        *slog.Logger
	Now           func() time.Time
}

// Forwarder is the proxy role's HTTP handler.
type Forwarder struct {
	o      Options
	self   identity.Fingerprint
	key    *ecdh.PrivateKey
	keyAns []byte // the signed GET /v1/proxy/key answer
	allow  map[identity.Fingerprint]bool
	sem    chan struct{}
	rate   *httpserver.RateLimiter

	srcMu    sync.Mutex
	inflight map[string]int // requests in flight per source
	bufs     sync.Pool

	mu      sync.Mutex
	clients map[string]*httpclient.Client
}

type nopMetrics struct{}

func (nopMetrics) Count(server.Event, int)   {}
func (nopMetrics) Bytes(server.Event, int64) {}

// New returns a Forwarder for the identity in o.
func New(o Options) (*Forwarder, error) {
	if o.Identity == nil {
		return nil, errors.New("proxy: no identity")
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = 64
	}
	if o.MaxConcurrentPerSource <= 0 {
		o.MaxConcurrentPerSource = max(1, o.MaxConcurrent/4)
	}
	if o.MaxBody <= 0 || o.MaxBody > onion.MaxAnswerBody {
		o.MaxBody = onion.MaxAnswerBody
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	if o.Metrics == nil {
		o.Metrics = nopMetrics{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	key, err := onion.ProxyKey(o.Identity.Key)
	if err != nil {
		return nil, err
	}
	ans, err := json.Marshal(newProxyKeyResponse(o.Identity, key.PublicKey().Bytes()))
	if err != nil {
		return nil, err
	}
	f := &Forwarder{o: o, self: o.Identity.Fingerprint(), key: key, keyAns: ans, sem: make(chan struct{}, o.MaxConcurrent),
		rate: httpserver.NewRateLimiter(o.RatePerMinute), clients: map[string]*httpclient.Client{}, inflight: map[string]int{}}
	if len(o.Allow) > 0 {
		f.allow = map[identity.Fingerprint]bool{}
		for _, fp := range o.Allow {
			f.allow[fp] = true
		}
	}
	f.bufs.New = func() any { b := make([]byte, 256<<10); return &b }
	return f, nil
}

// Routes serves POST / (a sealed layer) and GET /key, to be mounted at
// api.ProxyPath.
func (f *Forwarder) Routes() chi.Router {
	r := chi.NewRouter()
	r.Get("/key", f.serveKey)
	r.Post("/", f.forward)
	return r
}

// Handler serves the proxy endpoints at their full paths.
func (f *Forwarder) Handler() http.Handler {
	r := chi.NewRouter()
	r.Mount(api.ProxyPath, f.Routes())
	return r
}

// Close releases idle connections to next hops.
func (f *Forwarder) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.clients {
		c.Close()
	}
	f.clients = map[string]*httpclient.Client{}
}

func (f *Forwarder) serveKey(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(f.keyAns)))
	w.Header().Set("Cache-Control", "no-store")
	w.Write(f.keyAns)
}

// refuse answers the previous hop with the proxy's own plain error.
func (f *Forwarder) refuse(w http.ResponseWriter, code string, retry time.Duration) {
	c, _ := api.LookupCode(code)
	f.o.Metrics.Count(EventRefused, 1)
	if retry > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(retry/time.Second)+1))
	}
	b, _ := json.Marshal(api.ErrorResponse{Error: code})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(c.Status)
	w.Write(b)
}

// admit takes a slot for a request from src, within the per-source and
// global caps, and returns what gives it back.
func (f *Forwarder) admit(src string) (release func(), ok bool) {
	f.srcMu.Lock()
	defer f.srcMu.Unlock()
	if f.inflight[src] >= f.o.MaxConcurrentPerSource {
		return nil, false
	}
	select {
	case f.sem <- struct{}{}:
	default:
		return nil, false
	}
	f.inflight[src]++
	return func() {
		<-f.sem
		f.srcMu.Lock()
		if f.inflight[src]--; f.inflight[src] <= 0 {
			delete(f.inflight, src)
		}
		f.srcMu.Unlock()
	}, true
}

// client returns the pinned client of a next hop.
func (f *Forwarder) client(a api.Address) *httpclient.Client {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := a.String()
	if c, ok := f.clients[k]; ok {
		return c
	}
	if len(f.clients) >= 256 { // bounded: forget them all, rarely
		for _, c := range f.clients {
			c.Close()
		}
		f.clients = map[string]*httpclient.Client{}
	}
	c := httpclient.NewClient(a, f.o.ClientOptions)
	f.clients[k] = c
	return c
}

func (f *Forwarder) forward(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	deadline := f.o.Now().Add(f.o.Timeout)
	rc.SetReadDeadline(deadline)
	rc.SetWriteDeadline(deadline)
	if ok, wait := f.rate.Allow(r.RemoteAddr, f.o.Now()); !ok {
		f.refuse(w, api.CodeRate, wait)
		return
	}
	release, ok := f.admit(httpserver.SourceOf(r.RemoteAddr))
	if !ok {
		f.refuse(w, api.CodeProxyBusy, 5*time.Second)
		return
	}
	defer release()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, onion.MaxLayer))
	if err != nil {
		f.refuse(w, api.CodeTooLarge, 0)
		return
	}
	l, err := onion.Open(f.key, body)
	if err != nil {
		f.refuse(w, api.CodeProxyLayer, 0)
		return
	}
	next, err := api.ParseAddress(l.Next)
	if err != nil {
		f.refuse(w, api.CodeProxyLayer, 0)
		return
	}
	next.Password = "" // downloads need none; never carry secrets onwards
	if next.Fingerprint == f.self || (f.allow != nil && !f.allow[next.Fingerprint]) {
		f.refuse(w, api.CodeProxyRefused, 0)
		return
	}
	var req *onion.Request
	if l.Kind == onion.KindRequest {
		if req, err = onion.ParseRequest(l.Inner); err != nil {
			f.refuse(w, api.CodeProxyRefused, 0)
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), f.o.Timeout)
	defer cancel()
	c := f.client(next)
	out, err := f.answerWriter(w, l.ResponseKey)
	if err != nil {
		f.refuse(w, api.CodeInternal, 0)
		return
	}
	var n int64
	switch l.Kind {
	case onion.KindRelay:
		n, err = f.relay(ctx, c, l.Inner, out)
	case onion.KindRequest:
		n, err = f.request(ctx, c, req, out)
	case onion.KindKey:
		n, err = f.fetchKey(ctx, c, out)
	}
	if err == nil {
		err = out.Close()
	}
	if err != nil {
		// The status is sent: abort the stream so that the previous hop
		// cannot take a cut-off answer for a whole one.
		f.o.Logger.Debug("proxied answer aborted", "request_id", w.Header().Get(api.HeaderRequestID), "err", err)
		panic(http.ErrAbortHandler)
	}
	f.o.Metrics.Count(EventForwarded, 1)
	f.o.Metrics.Bytes(EventForwarded, n)
}

// answer is the sealed answer stream to the previous hop: a fresh salt,
// then the STREAM under the key derived from it (onion.ResponseCipher).
// Nothing is sent before the first write, so that a refusal before it can
// still be plain.
type answer struct {
	w      http.ResponseWriter
	sw     *stream.Writer
	salt   []byte
	header bool
}

func (f *Forwarder) answerWriter(w http.ResponseWriter, key [onion.ResponseKeySize]byte) (*answer, error) {
	salt := onion.NewAnswerSalt()
	c, err := onion.ResponseCipher(key, salt)
	if err != nil {
		return nil, err
	}
	return &answer{w: w, sw: stream.NewWriter(c, w), salt: salt}, nil
}

func (a *answer) Write(p []byte) (int, error) {
	if !a.header {
		a.header = true
		h := a.w.Header()
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Cache-Control", "no-store")
		a.w.WriteHeader(http.StatusOK)
		if _, err := a.w.Write(a.salt); err != nil {
			return 0, err
		}
	}
	return a.sw.Write(p)
}

func (a *answer) Close() error { return a.sw.Close() }

// refused seals a refusal of the next hop into the answer.
func refused(out io.Writer, status int, code string) error {
	clean := make([]byte, 0, len(code))
	for _, c := range []byte(code) {
		if c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' {
			clean = append(clean, c)
		}
	}
	if status != 0 && (status < 100 || status > 599) {
		status = 0
	}
	rf := onion.Refusal{Status: status, Code: string(clean)}
	_, err := out.Write(append([]byte{onion.TypeRefused}, rf.Marshal()...))
	return err
}

// unreachable seals the refusal for a next hop that could not be used.
func (f *Forwarder) unreachable(out io.Writer, err error) error {
	f.o.Metrics.Count(EventRefused, 1)
	var ae *api.Error
	switch {
	case errors.As(err, &ae):
		return refused(out, ae.Status, ae.Code)
	case errors.Is(err, identity.ErrWrongIdentity):
		return refused(out, 0, api.CodeWrongIdentity)
	}
	return refused(out, 0, api.CodeUnreachable)
}

// errorCode reads the code of a next hop's error answer.
func errorCode(resp *http.Response) string {
	var er api.ErrorResponse
	json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&er)
	if er.Error == "" {
		return "HTTP_" + strconv.Itoa(resp.StatusCode)
	}
	return er.Error
}

func (f *Forwarder) relay(ctx context.Context, c *httpclient.Client, layer []byte, out io.Writer) (int64, error) {
	resp, err := c.Relay(ctx, layer)
	if err != nil {
		return 0, f.unreachable(out, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		f.o.Metrics.Count(EventRefused, 1)
		return 0, refused(out, resp.StatusCode, errorCode(resp))
	}
	if _, err := out.Write([]byte{onion.TypeRelayed}); err != nil {
		return 0, err
	}
	// A relayed answer is the next hop's sealed answer: at most the
	// body cap plus STREAM tags and frames of each later hop.
	return f.copy(out, io.LimitReader(resp.Body, f.o.MaxBody+f.o.MaxBody/64+64<<10))
}

func (f *Forwarder) copy(dst io.Writer, src io.Reader) (int64, error) {
	bp := f.bufs.Get().(*[]byte)
	defer f.bufs.Put(bp)
	return io.CopyBuffer(dst, src, *bp)
}

// maxErrorBody caps a destination's error answer (a 451 record fits).
const maxErrorBody = 8 << 10

func (f *Forwarder) request(ctx context.Context, c *httpclient.Client, req *onion.Request, out io.Writer) (int64, error) {
	resp, pub, err := c.Forward(ctx, req)
	if err != nil {
		return 0, f.unreachable(out, err)
	}
	defer resp.Body.Close()
	a := onion.Answer{Status: resp.StatusCode, Identity: pub}
	if t, err := http.ParseTime(resp.Header.Get("Date")); err == nil && t.Unix() > 0 {
		a.Date = t.Unix()
	}
	if s, err := strconv.ParseUint(resp.Header.Get("Retry-After"), 10, 32); err == nil {
		a.RetryAfter = uint32(s)
	}
	var body io.Reader
	if resp.StatusCode == http.StatusOK {
		// A download's answer carries the server's signed key; an
		// acknowledgement's does not. The client checks both.
		sk, err1 := parseB64(resp.Header.Get(api.HeaderServerKey))
		sig, err2 := parseB64(resp.Header.Get(api.HeaderKeySignature))
		if err1 != nil || err2 != nil || len(sk) > 32 || len(sig) > ed25519.SignatureSize ||
			resp.ContentLength < 0 || resp.ContentLength > f.o.MaxBody {
			f.o.Metrics.Count(EventRefused, 1)
			return 0, refused(out, 0, api.CodeUnreachable)
		}
		a.ServerKey, a.KeySignature, a.BodyLength = sk, sig, uint64(resp.ContentLength)
		body = resp.Body
	} else {
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		if err != nil {
			return 0, f.unreachable(out, err)
		}
		a.BodyLength = uint64(len(b))
		body = bytes.NewReader(b)
	}
	if _, err := out.Write(append([]byte{onion.TypeAnswer}, a.Marshal()...)); err != nil {
		return 0, err
	}
	n, err := f.copy(out, io.LimitReader(body, int64(a.BodyLength)))
	if err == nil && n != int64(a.BodyLength) {
		err = fmt.Errorf("the server's answer ended after %d of %d bytes", n, a.BodyLength)
	}
	return n, err
}

func (f *Forwarder) fetchKey(ctx context.Context, c *httpclient.Client, out io.Writer) (int64, error) {
	pk, err := c.FetchProxyKey(ctx)
	if err != nil {
		return 0, f.unreachable(out, err)
	}
	b, err := json.Marshal(pk)
	if err != nil {
		return 0, err
	}
	a := onion.Answer{Status: http.StatusOK, Identity: pk.IdentityKey, BodyLength: uint64(len(b))}
	if _, err := out.Write(append(append([]byte{onion.TypeAnswer}, a.Marshal()...), b...)); err != nil {
		return 0, err
	}
	return int64(len(b)), nil
}

func parseB64(s string) ([]byte, error) {
	var b api.B64
	err := b.UnmarshalText([]byte(s))
	return b, err
}

// newProxyKeyResponse is the proxy's signed answer to GET /v1/proxy/key.
func newProxyKeyResponse(id *identity.Identity, proxyPub []byte) api.ProxyKeyResponse {
	return api.ProxyKeyResponse{IdentityKey: api.B64(id.Public()), ProxyKey: proxyPub, Signature: id.Sign(onion.ProxyKeyMessage(proxyPub))}
}
