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

// MemoryNonces is a Nonces for a single process.
type MemoryNonces struct {
	mu      sync.Mutex
	seen    map[[16]byte]int64
	now     func() time.Time
	nextGC  int64
	maxSize int
}

// NewMemoryNonces returns an empty MemoryNonces holding at most maxSize
// nonces; when full, it refuses new requests rather than forget live nonces.
func NewMemoryNonces(maxSize int) *MemoryNonces {
	return &MemoryNonces{seen: make(map[[16]byte]int64), now: time.Now, maxSize: maxSize}
}

// ErrNonceCacheFull means too many requests arrived within one window.
var errNonceCacheFull = ErrUnavailable

// Use implements Nonces.
func (m *MemoryNonces) Use(_ context.Context, nonce []byte, until time.Time) (bool, error) {
	var k [16]byte
	if len(nonce) != len(k) {
		return false, nil
	}
	copy(k[:], nonce)
	now := m.now().UnixNano()
	m.mu.Lock()
	defer m.mu.Unlock()
	if now >= m.nextGC || len(m.seen) >= m.maxSize {
		for n, exp := range m.seen {
			if exp <= now {
				delete(m.seen, n)
			}
		}
		m.nextGC = now + int64(10*time.Second)
	}
	if exp, ok := m.seen[k]; ok && exp > now {
		return false, nil
	}
	if len(m.seen) >= m.maxSize {
		return false, errNonceCacheFull
	}
	m.seen[k] = until.UnixNano()
	return true, nil
}
