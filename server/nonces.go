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
