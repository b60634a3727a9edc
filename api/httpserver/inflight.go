package httpserver

import (
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/server"
)

// inflight counts the requests being served, in all and per source, so
// that requests held open (slow readers, bodies announced but never sent,
// zero-window HTTP/2 streams) cannot take every handler from the others.
//
// Below half of the total a source may hold up to perSource. Past half, a
// source holding h may start another only while more than fairReserve×h
// slots are free. So a source holding none needs one free slot, and every
// source already holding one stops while fairReserve are free: those are
// kept for newcomers. Busy sources share the rest about equally: S of
// them, each holding as much as it may, hold about total/(S+fairReserve)
// each (200 sources, 512 slots: 2 or 3 each, 8 to 16 slots free). The old
// rule (past 3/4 only sources holding fewer than 8) let 200 sources × 7
// take all 512.
type inflight struct {
	perSource, total int

	mu       sync.Mutex
	bySource map[string]int
	n        int
}

// fairReserve is the free slots per slot held that a source needs to
// start a request once half the total is taken.
const fairReserve = 8

func newInflight(total, perSource int) *inflight {
	return &inflight{total: total, perSource: perSource, bySource: map[string]int{}}
}

func (f *inflight) admit(src string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	held, free := f.bySource[src], f.total-f.n
	if f.perSource > 0 && held >= f.perSource ||
		f.total > 0 && (free <= 0 || 2*f.n >= f.total && free <= fairReserve*held) {
		return false
	}
	f.bySource[src]++
	f.n++
	return true
}

func (f *inflight) release(src string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.bySource[src]--; f.bySource[src] <= 0 {
		delete(f.bySource, src)
	}
	f.n--
}

// The download page (/d/) has a pool of its own: its static answers are
// megabytes with a long deadline (mountWeb), and slow readers of them
// must not take the slots of chunk traffic. Its size bounds the host's
// TCP send buffers they fill too (up to 4 MiB a connection).
const (
	pageInflightShare     = 8 // MaxInflight / this
	pageInflightPerSource = 4
)

// isPage reports whether path is the download page's (mountWeb).
func isPage(path string) bool { return path == "/d" || strings.HasPrefix(path, "/d/") }

// deadlines bounds every request by RequestTimeout, reading and writing:
// handlers that stream (uploads, downloads, the page's module) extend it.
// Without it a slow reader, or a request announcing a body it never
// sends, held its connection forever on the routes that set none.
func (h *Handler) deadlines(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setDeadlines(w, h.opts.RequestTimeout)
		next.ServeHTTP(w, r)
	})
}

// admit refuses a request with 503 UNAVAILABLE when the relay serves
// MaxInflight requests already, or this source its share of them (the
// page under /d/ in its own pool). Health probes are not counted.
func (h *Handler) admit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			next.ServeHTTP(w, r)
			return
		}
		pool := h.inflight
		if h.opts.Web != nil && isPage(r.URL.Path) {
			pool = h.page
		}
		src := server.SourceFrom(r.Context()) // requestID, which runs first, put it there
		if !pool.admit(src) {
			h.refuse(w, r)
			return
		}
		defer pool.release(src)
		next.ServeHTTP(w, r)
		// The slot is held until the answer has left. HTTP/2 sends what
		// a handler left buffered after it returns, and waits for the
		// client's flow-control window to do so: a client that kept
		// its window shut held a goroutine per stream past its slot,
		// until the deadline, so memory grew with connections × streams
		// instead of being bounded by MaxInflight.
		http.NewResponseController(w).Flush()
	})
}

// refuse answers 503 UNAVAILABLE with Retry-After and no body. A body
// would wait for an HTTP/2 client's flow-control window: a client that
// keeps it shut held every refused stream of every connection until its
// deadline (xftp-bench attack, zero-window from 200 sources: 25,600
// streams, 347 MiB). An HTTP/2 request's body is not waited for either
// (the stream is reset with NO_ERROR once the answer is sent). Clients
// read a 503 without a code as UNAVAILABLE (docs/PROTOCOL.md §7).
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor < 2 {
		h.drain(w, r)
	}
	hd := w.Header()
	hd.Set("Retry-After", strconv.Itoa(int(api.RetryAfter.Seconds())))
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Length", "0")
	w.WriteHeader(http.StatusServiceUnavailable)
}
