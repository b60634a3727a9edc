package httpserver

import (
	"net/http"
	"strconv"
	"sync"

	"github.com/xftp/xftp/api"
)

// inflight counts the requests being served, in all and per source, so
// that requests held open (slow readers, bodies announced but never sent,
// zero-window HTTP/2 streams) cannot take every handler from the others.
type inflight struct {
	perSource, total int

	mu       sync.Mutex
	bySource map[string]int
	n        int
}

// reserveInflight is what every source may still start once most of the
// total is taken.
const reserveInflight = 8

func (f *inflight) admit(src string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	held := f.bySource[src]
	if f.perSource > 0 && held >= f.perSource ||
		f.total > 0 && (f.n >= f.total || f.n >= f.total*3/4 && held >= reserveInflight) {
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
// MaxInflight requests already, or this source its share of them.
// Health probes are not counted.
func (h *Handler) admit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			next.ServeHTTP(w, r)
			return
		}
		src := SourceOf(r.RemoteAddr)
		if !h.inflight.admit(src) {
			h.drain(w, r)
			w.Header().Set("Retry-After", strconv.Itoa(int(api.RetryAfter.Seconds())))
			writeJSON(w, http.StatusServiceUnavailable, api.ErrorResponse{Error: api.CodeUnavailable})
			return
		}
		defer h.inflight.release(src)
		next.ServeHTTP(w, r)
	})
}
