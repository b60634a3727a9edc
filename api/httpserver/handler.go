package httpserver

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
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
	"github.com/xftp/xftp/identity"
	"github.com/xftp/xftp/server"
)

// HandlerOptions tune the HTTP binding.
type HandlerOptions struct {
	Logger *slog.Logger
	// UploadTimeout bounds one upload (headers to commit).
	UploadTimeout time.Duration
	// RequestTimeout bounds every other request, except that downloads
	// get UploadTimeout to stream.
	RequestTimeout time.Duration
	// Observe, if set, is told of every request: its route pattern (never
	// the path, which holds IDs), status and duration.
	Observe func(op string, status int, d time.Duration)
	// Limits are the per-source request rates (connections are limited by
	// LimitListener).
	Limits Limits
	// Web, if set, serves the browser download page at /d/ (see web.go).
	Web http.Handler
	// PageStall bounds the time the page's answer may make no progress
	// (64 KiB written) within its 4 × RequestTimeout (default:
	// RequestTimeout / 3).
	PageStall time.Duration
	// MaxInflight caps the requests served at once (default 512), and
	// MaxInflightPerSource one source's share (default 128); past half of
	// MaxInflight, a source holding h may start another only while more
	// than 8×h are free (inflight.go). The download page (/d/) has a pool
	// of its own, MaxInflight/8, 4 per source. Over a cap: 503
	// UNAVAILABLE with Retry-After.
	MaxInflight, MaxInflightPerSource int
}

// Handler is the relay's HTTP binding.
type Handler struct {
	svc  *server.Service
	self identity.Fingerprint
	log  *slog.Logger
	opts HandlerOptions
	bufs sync.Pool

	createLimit, downloadLimit *RateLimiter
	reportLimit                *RateLimiter // reports.go
	requestLimit               *RateLimiter
	inflight, page             *inflight // inflight.go
}

// NewHandler binds svc to HTTP.
func NewHandler(svc *server.Service, opts HandlerOptions) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.UploadTimeout <= 0 {
		opts.UploadTimeout = 5 * time.Minute
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 30 * time.Second
	}
	if opts.PageStall <= 0 {
		opts.PageStall = opts.RequestTimeout / 3
	}
	if opts.MaxInflight <= 0 {
		opts.MaxInflight = 512
	}
	if opts.MaxInflightPerSource <= 0 {
		opts.MaxInflightPerSource = 128
	}
	h := &Handler{svc: svc, self: svc.Identity().Fingerprint(), log: opts.Logger, opts: opts,
		inflight: newInflight(opts.MaxInflight, opts.MaxInflightPerSource),
		page:     newInflight(max(opts.MaxInflight/pageInflightShare, 1), pageInflightPerSource)}
	h.bufs.New = func() any { b := make([]byte, 256<<10); return &b }
	h.createLimit = NewRateLimiter(opts.Limits.CreatesPerMinute)
	h.downloadLimit = NewRateLimiter(opts.Limits.DownloadsPerMinute)
	h.reportLimit = NewRateLimiter(opts.Limits.ReportsPerMinute)
	h.requestLimit = NewRateLimiter(opts.Limits.RequestsPerMinute)
	return h
}

// Routes returns the router for all endpoints.
func (h *Handler) Routes() chi.Router {
	r := chi.NewRouter()
	r.Use(h.requestID)
	r.Use(h.deadlines) // inflight.go
	r.Use(h.admit)
	if h.opts.Observe != nil {
		r.Use(h.observe)
	}
	r.Use(cors) // for the download page: web.go
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		h.drain(w, r)
		writeJSON(w, http.StatusNotFound, api.ErrorResponse{Error: api.CodeNotFound})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		h.drain(w, r)
		writeJSON(w, http.StatusMethodNotAllowed, api.ErrorResponse{Error: api.CodeSyntax})
	})
	r.Mount("/v1/chunks", h.chunkRoutes())
	h.mountWeb(r)
	r.Mount("/", h.healthRoutes())
	return r
}

// drain reads what is left of a small request body (at most MaxJSONBody,
// within the request timeout) before a refusal is answered. A body that
// contradicts its Content-Length then always ends in the HTTP/2 stream
// error PROTOCOL_ERROR (RFC 9113 §8.1.1) instead of racing the answer.
func (h *Handler) drain(w http.ResponseWriter, r *http.Request) {
	setDeadlines(w, h.opts.RequestTimeout)
	io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, api.MaxJSONBody))
}

// requestID tags each request with a random ID (never a chunk ID) for
// correlating log lines.
func (h *Handler) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b [8]byte
		rand.Read(b[:])
		id := fmt.Sprintf("%x", b)
		w.Header().Set(api.HeaderRequestID, id)
		ctx := server.WithSource(withRequestID(r.Context(), id), SourceOf(r.RemoteAddr))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// observe reports each request's route, status and duration.
func (h *Handler) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			op := "unmatched"
			if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
				op = r.Method + " " + rc.RoutePattern()
			}
			h.opts.Observe(op, sw.status, time.Since(start))
		}()
		next.ServeHTTP(sw, r)
	})
}

// statusWriter remembers the status; Unwrap keeps http.ResponseController
// (deadlines, flushing) working through it.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// handlerFunc is a handler that returns its failure; serve answers it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// serve adapts f: the one place where a failed request is answered.
func (h *Handler) serve(f handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := f(w, r); err != nil {
			h.fail(w, r, err)
		}
	}
}

// fail writes the error answer for err. Internal error text is logged,
// never sent.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, code := statusOf(err)
	if status >= 500 {
		h.log.Error("request failed", "request_id", requestID(r.Context()), "code", code, "err", err)
	} else {
		h.log.Debug("request refused", "request_id", requestID(r.Context()), "code", code)
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(int(api.RetryAfter/time.Second)))
	}
	if status == http.StatusUnauthorized {
		// Lets a client with a skewed clock correct itself.
		w.Header().Set("Date", h.svc.Now().UTC().Format(http.TimeFormat))
	}
	writeJSON(w, status, errorBody(err, code))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b)
}

// readJSON reads a bounded JSON body and returns it raw (for the signed
// body hash) and decoded.
func readJSON(w http.ResponseWriter, r *http.Request, v any) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, api.MaxJSONBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: reading body", server.ErrSyntax)
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			return nil, fmt.Errorf("%w: %v", server.ErrSyntax, err)
		}
	}
	return body, nil
}

// signed reads a request on a chunk: its ID from the path, its bounded JSON
// body (decoded into v unless v is nil) and its Xftp-Auth header over that
// body.
func (h *Handler) signed(w http.ResponseWriter, r *http.Request, v any) (id []byte, a server.Auth, err error) {
	if id, err = parseID(r); err != nil {
		return nil, a, err
	}
	body, err := readJSON(w, r, v)
	if err != nil {
		return nil, a, err
	}
	a, err = h.auth(r, api.BodyHash(body))
	return id, a, err
}

// auth parses the request's Xftp-Auth header into what the service checks.
func (h *Handler) auth(r *http.Request, bodyHash string) (server.Auth, error) {
	ah, err := api.ParseAuthHeader(r.Header.Get(api.HeaderAuth))
	if err != nil {
		return server.Auth{}, fmt.Errorf("%w: %v", server.ErrSyntax, err)
	}
	return serverAuth(h.self, r.Method, r.URL.EscapedPath(), bodyHash, ah), nil
}

func parseID(r *http.Request) ([]byte, error) {
	id, err := enc.DecodeString(chi.URLParam(r, "id"))
	if err != nil || len(id) == 0 || len(id) > 64 {
		return nil, fmt.Errorf("%w: chunk ID", server.ErrSyntax)
	}
	return id, nil
}

func keys(in []api.B64) []ed25519.PublicKey {
	out := make([]ed25519.PublicKey, len(in))
	for i, k := range in {
		out[i] = ed25519.PublicKey(k)
	}
	return out
}

func b64s(in [][]byte) []api.B64 {
	out := make([]api.B64, len(in))
	for i, b := range in {
		out[i] = b
	}
	return out
}

// setDeadlines bounds the time a request may take to arrive and be answered.
func setDeadlines(w http.ResponseWriter, d time.Duration) {
	rc := http.NewResponseController(w)
	deadline := time.Now().Add(d)
	rc.SetReadDeadline(deadline)
	rc.SetWriteDeadline(deadline)
}

// serverAuth turns a parsed header into what the service verifies.
func serverAuth(self identity.Fingerprint, method, path, bodyHash string, h api.AuthHeader) server.Auth {
	return server.Auth{
		Message:   api.SignedMessage(self, method, path, h.Timestamp, h.Nonce, bodyHash),
		Signature: h.Signature,
		Timestamp: time.Unix(h.Timestamp, 0),
		Nonce:     h.Nonce,
	}
}

// enc is the wire's unpadded base64url, strict.
var enc = base64.RawURLEncoding.Strict()
