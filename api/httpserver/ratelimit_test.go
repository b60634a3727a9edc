package httpserver

import (
	"testing"
	"time"
)

func TestRateLimiterForgetsIdleSources(t *testing.T) {
	l := NewRateLimiter(1)
	now := time.Unix(1000, 0)
	l.Allow("192.0.2.1:1", now)
	l.Allow("192.0.2.2:1", now.Add(2*time.Minute))
	l.Allow("192.0.2.2:1", now.Add(5*time.Minute))
	if _, ok := l.sources["192.0.2.1"]; ok || len(l.sources) != 1 {
		t.Fatalf("sources kept: %v", l.sources)
	}
}
