package httpserver

import (
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/xftp/xftp/api"
	"golang.org/x/time/rate"
)

// CodeRate answers a request over a per-source rate limit (HTTP 429).
const CodeRate = "RATE"

// Limits bound what one source address may do. Zero values switch a limit
// off. Source addresses are kept in memory only, never logged or stored.
type Limits struct {
	// ConnsPerSource caps concurrent connections from one IP address.
	ConnsPerSource int
	// CreatesPerMinute and DownloadsPerMinute are per-source request
	// rates, with bursts of the same size.
	CreatesPerMinute   int
	DownloadsPerMinute int
	// ReportsPerMinute is the per-source rate of abuse reports.
	ReportsPerMinute int
	// RequestsPerMinute caps every other signed chunk request (upload,
	// delete, add recipients, ack, status) per source.
	RequestsPerMinute int
}

// DefaultLimits are generous for people and tight for floods.
func DefaultLimits() Limits {
	return Limits{ConnsPerSource: 64, CreatesPerMinute: 6000, DownloadsPerMinute: 12000, ReportsPerMinute: 10,
		RequestsPerMinute: 30000}
}

// SourceOf returns the IP of a remote address; behind a reverse proxy it is
// the proxy's (limits then apply per proxy, by design: we do not trust
// forwarded headers).
//
// IPv6 sources are grouped by /64: a host usually controls a whole /64, and
// limits per address would be bypassed by rotating through it.
func SourceOf(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.To4() != nil {
		return host
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// maxSources caps the sources a limiter remembers; beyond it, unknown
// sources are refused until idle ones are forgotten (fail closed, bounded
// memory).
const maxSources = 1 << 20

// RateLimiter holds one token bucket per source (see SourceOf), in memory
// only, forgetting idle sources; the proxy role uses it too.
type RateLimiter struct {
	perMinute int
	mu        sync.Mutex
	sources   map[string]*sourceLimit
	lastSweep time.Time
}

type sourceLimit struct {
	lim  *rate.Limiter
	seen time.Time
}

// NewRateLimiter returns a limiter of perMinute requests per source, with
// bursts of the same size; nil (no limit) if perMinute <= 0.
func NewRateLimiter(perMinute int) *RateLimiter {
	if perMinute <= 0 {
		return nil
	}
	return &RateLimiter{perMinute: perMinute, sources: map[string]*sourceLimit{}}
}

// Allow reports whether the source of remote (an address as in
// http.Request.RemoteAddr) may make a request at now, and if not, how long
// until it may. A nil limiter allows everything.
func (r *RateLimiter) Allow(remote string, now time.Time) (bool, time.Duration) {
	if r == nil {
		return true, 0
	}
	src := SourceOf(remote)
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Sub(r.lastSweep) > time.Minute {
		for k, s := range r.sources {
			if now.Sub(s.seen) > 2*time.Minute {
				delete(r.sources, k)
			}
		}
		r.lastSweep = now
	}
	s, ok := r.sources[src]
	if !ok && len(r.sources) >= maxSources {
		return false, time.Minute
	}
	if !ok {
		s = &sourceLimit{lim: rate.NewLimiter(rate.Limit(float64(r.perMinute)/60), r.perMinute)}
		r.sources[src] = s
	}
	s.seen = now
	res := s.lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

// limit wraps a handler with a per-source rate limit.
func (h *Handler) limit(rl *RateLimiter, next http.HandlerFunc) http.HandlerFunc {
	if rl == nil {
		return next
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if ok, wait := rl.Allow(r.RemoteAddr, time.Now()); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
			writeJSON(w, http.StatusTooManyRequests, api.ErrorResponse{Error: CodeRate})
			return
		}
		next(w, r)
	}
}
