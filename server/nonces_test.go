package server

import (
	"context"
	"testing"
	"time"
)

func TestMemoryNonces(t *testing.T) {
	now := time.Now()
	m := NewMemoryNonces(3, time.Minute)
	m.now = func() time.Time { return now }
	ctx := context.Background()
	n := func(b byte) []byte { k := make([]byte, 16); k[0] = b; return k }
	if ok, _ := m.Use(ctx, n(1), now.Add(time.Minute)); !ok {
		t.Fatal("fresh nonce refused")
	}
	if ok, _ := m.Use(ctx, n(1), now.Add(time.Minute)); ok {
		t.Fatal("replayed nonce accepted")
	}
	now = now.Add(70 * time.Second) // one rotation: still remembered
	if ok, _ := m.Use(ctx, n(1), now); ok {
		t.Fatal("nonce forgotten within its retention")
	}
	m.Use(ctx, n(2), now)
	m.Use(ctx, n(3), now)
	if _, err := m.Use(ctx, n(4), now); err == nil {
		t.Fatal("a full cache accepted a new nonce")
	}
	now = now.Add(3 * time.Minute) // both generations are old now
	if ok, err := m.Use(ctx, n(1), now); !ok || err != nil {
		t.Fatalf("nonce still refused long after its retention: %v", err)
	}
}

func BenchmarkMemoryNoncesFull(b *testing.B) {
	m := NewMemoryNonces(1<<20, time.Hour)
	ctx := context.Background()
	k := make([]byte, 16)
	for i := 0; i < 1<<20; i++ {
		k[0], k[1], k[2] = byte(i), byte(i>>8), byte(i>>16)
		m.Use(ctx, k, time.Now())
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		k[3] = byte(i)
		m.Use(ctx, k, time.Now()) // refused in O(1), no scan
	}
}
