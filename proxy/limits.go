package proxy

import (
	"net"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// sourceLimiter holds one token bucket per source address, in memory
// only, forgetting idle sources.
type sourceLimiter struct {
	perMinute int
	mu        sync.Mutex
	sources   map[string]*sourceBucket
	lastSweep time.Time
}

type sourceBucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newSourceLimiter(perMinute int) *sourceLimiter {
	if perMinute <= 0 {
		return nil
	}
	return &sourceLimiter{perMinute: perMinute, sources: map[string]*sourceBucket{}}
}

// allow reports whether src may make a request now, and if not, how long
// until it may.
func (l *sourceLimiter) allow(src string, now time.Time) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) > time.Minute {
		for k, s := range l.sources {
			if now.Sub(s.seen) > 2*time.Minute {
				delete(l.sources, k)
			}
		}
		l.lastSweep = now
	}
	s, ok := l.sources[src]
	if !ok {
		s = &sourceBucket{lim: rate.NewLimiter(rate.Limit(float64(l.perMinute)/60), l.perMinute)}
		l.sources[src] = s
	}
	s.seen = now
	res := s.lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

// sourceOf returns the IP of a remote address.
func sourceOf(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return remote
	}
	return host
}
