package httpserver

import (
	"sync"
	"time"
)

// FloodCooldown is how long a source whose HTTP/2 connection was closed
// for a frame flood may open no new connection (NewFloodCooldown).
const FloodCooldown = 10 * time.Second

// Cooldown refuses, for a while, new connections from a source whose
// HTTP/2 connection was closed for a frame flood (h2guard): otherwise it
// dials again at once, and every new connection gets its budgets afresh.
// Like the other per-source limits it keys sources by SourceOf, in memory
// only. One address shared by many users (CGNAT) is cooled down for all of
// them: the price of not letting a flooder re-dial.
type Cooldown struct {
	d   time.Duration
	now func() time.Time

	mu        sync.Mutex
	until     map[string]time.Time
	lastSweep time.Time
}

// maxCooling caps the sources cooling down at once; past it, new ones are
// not cooled (fail open: the cool-down is an extra, the guard's budgets
// still hold each connection).
const maxCooling = 1 << 16

// NewCooldown returns a Cooldown of d; now is the clock (nil: time.Now).
func NewCooldown(d time.Duration, now func() time.Time) *Cooldown {
	if now == nil {
		now = time.Now
	}
	return &Cooldown{d: d, now: now, until: map[string]time.Time{}}
}

// Start cools down the source of remote (a connection's remote address).
func (c *Cooldown) Start(remote string) {
	src, now := SourceOf(remote), c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.until) >= maxCooling && now.Sub(c.lastSweep) >= time.Second {
		c.lastSweep = now
		for s, t := range c.until {
			if !now.Before(t) {
				delete(c.until, s)
			}
		}
	}
	if len(c.until) >= maxCooling {
		return
	}
	c.until[src] = now.Add(c.d)
}

// Cooling reports whether the source of remote is cooling down.
func (c *Cooldown) Cooling(remote string) bool {
	src, now := SourceOf(remote), c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.until[src]
	if ok && !now.Before(t) {
		delete(c.until, src)
		return false
	}
	return ok
}
