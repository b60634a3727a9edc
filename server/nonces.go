package server

import (
	"context"
	"sync"
	"time"
)

// Nonces remembers the nonces of accepted requests, so that a signed request
// cannot be replayed within its timestamp window. Replicas of one service
// must share one Nonces.
type Nonces interface {
	// Use records nonce until the given time. It reports false if the
	// nonce was already recorded and has not expired.
	Use(ctx context.Context, nonce []byte, until time.Time) (fresh bool, err error)
}

// MemoryNonces is a Nonces for a single process. It keeps two generations
// of nonces and drops the older one every retention period, so forgetting
// costs nothing per request (no scans under the lock); a nonce is
// remembered for between one and two periods.
type MemoryNonces struct {
	mu        sync.Mutex
	cur, prev map[[16]byte]struct{}
	rotated   time.Time
	retention time.Duration
	maxSize   int
	now       func() time.Time
}

// NewMemoryNonces returns an empty MemoryNonces that remembers each nonce
// for at least retention and holds at most maxSize nonces; when full, it
// refuses new requests rather than forget live nonces.
func NewMemoryNonces(maxSize int, retention time.Duration) *MemoryNonces {
	return &MemoryNonces{cur: map[[16]byte]struct{}{}, prev: map[[16]byte]struct{}{},
		retention: retention, maxSize: maxSize, now: time.Now, rotated: time.Now()}
}

// Use implements Nonces. until must be at most retention from now.
func (m *MemoryNonces) Use(_ context.Context, nonce []byte, until time.Time) (bool, error) {
	var k [16]byte
	if len(nonce) != len(k) {
		return false, nil
	}
	copy(k[:], nonce)
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if now.Sub(m.rotated) >= m.retention {
		m.prev, m.cur = m.cur, make(map[[16]byte]struct{}, len(m.cur))
		if now.Sub(m.rotated) >= 2*m.retention {
			m.prev = map[[16]byte]struct{}{} // idle for long: both are old
		}
		m.rotated = now
	}
	if _, ok := m.cur[k]; ok {
		return false, nil
	}
	if _, ok := m.prev[k]; ok {
		return false, nil
	}
	if len(m.cur)+len(m.prev) >= m.maxSize {
		return false, ErrUnavailable
	}
	m.cur[k] = struct{}{}
	return true, nil
}

type sourceKey struct{}

// WithSource returns ctx carrying the source of a request (an address
// group, as the binding counts its per-source limits; kept in memory only,
// never logged). The service uses it to share the nonce cache fairly.
func WithSource(ctx context.Context, source string) context.Context {
	return context.WithValue(ctx, sourceKey{}, source)
}

// SourceFrom returns the source WithSource put in ctx ("" if none).
func SourceFrom(ctx context.Context) string {
	s, _ := ctx.Value(sourceKey{}).(string)
	return s
}

// fairNonces shares a nonce cache among request sources, so that a few
// sources spending nonces as fast as their rate limits allow cannot fill
// it and have every signed request refused. Each source holds at most
// perSource live nonces; once the cache holds soft nonces, only sources
// holding fewer than reserve may add more (every source keeps room for a
// modest burst, up to the inner cache's own hard limit). A refused request
// gets ErrRateLimited (429) and spends nothing. Requests without a source
// are not counted. Counts live in memory, per process, in two generations
// like MemoryNonces, so a source's count covers between one and two
// retention periods.
type fairNonces struct {
	inner                    Nonces
	soft, perSource, reserve int
	retention                time.Duration
	now                      func() time.Time

	mu        sync.Mutex
	cur, prev map[string]int
	total     int // of cur and prev
	rotated   time.Time
}

func newFairNonces(inner Nonces, soft, perSource, reserve int, retention time.Duration) *fairNonces {
	return &fairNonces{inner: inner, soft: soft, perSource: perSource, reserve: reserve, retention: retention,
		now: time.Now, cur: map[string]int{}, prev: map[string]int{}, rotated: time.Now()}
}

// Use implements Nonces.
func (f *fairNonces) Use(ctx context.Context, nonce []byte, until time.Time) (bool, error) {
	src := SourceFrom(ctx)
	if src == "" {
		return f.inner.Use(ctx, nonce, until)
	}
	f.mu.Lock()
	now := f.now()
	if d := now.Sub(f.rotated); d >= f.retention {
		f.prev, f.cur = f.cur, map[string]int{}
		if d >= 2*f.retention {
			f.prev = map[string]int{}
		}
		f.total = 0
		for _, n := range f.prev {
			f.total += n
		}
		f.rotated = now
	}
	held := f.cur[src] + f.prev[src]
	if held >= f.perSource || f.total >= f.soft && held >= f.reserve {
		f.mu.Unlock()
		return false, ErrRateLimited
	}
	f.mu.Unlock()
	fresh, err := f.inner.Use(ctx, nonce, until)
	if fresh && err == nil {
		f.mu.Lock()
		f.cur[src]++
		f.total++
		f.mu.Unlock()
	}
	return fresh, err
}
