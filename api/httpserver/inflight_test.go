package httpserver

import (
	"fmt"
	"testing"
)

// TestInflightIsSharedFairly: one source alone may hold its whole share;
// 200 sources holding as many requests as they can leave slots free, a
// newcomer holding nothing finds one, and the busy sources hold about
// equal shares (issue 20, item 20: the rule before, past 3/4 only sources
// holding fewer than 8, let 200 sources × 7 take all 512 slots).
func TestInflightIsSharedFairly(t *testing.T) {
	f := newInflight(512, 128)
	n := 0
	for f.admit("alone") {
		n++
	}
	if n != 128 {
		t.Fatalf("one source alone got %d slots, want its share of 128", n)
	}
	for range n {
		f.release("alone")
	}
	if f.n != 0 || len(f.bySource) != 0 {
		t.Fatalf("released all: %d in flight, %d sources", f.n, len(f.bySource))
	}

	const sources = 200
	for round := 0; round < 128; round++ { // bounded: each round admits someone or ends
		admitted := false
		for s := range sources {
			admitted = f.admit(fmt.Sprint("attacker", s)) || admitted
		}
		if !admitted {
			break
		}
	}
	lo, hi := f.total, 0
	for s := range sources {
		h := f.bySource[fmt.Sprint("attacker", s)]
		lo, hi = min(lo, h), max(hi, h)
	}
	t.Logf("%d sources hold %d of %d (%d to %d each)", sources, f.n, f.total, lo, hi)
	if free := f.total - f.n; free < fairReserve {
		t.Fatalf("%d sources left %d slots free, want at least %d for newcomers", sources, free, fairReserve)
	}
	if lo < 1 || hi-lo > 1 {
		t.Fatalf("shares of %d to %d, want equal within one", lo, hi)
	}
	for i := range fairReserve {
		if !f.admit(fmt.Sprint("newcomer", i)) {
			t.Fatalf("newcomer %d refused with %d of %d taken", i, f.n, f.total)
		}
	}
	if f.admit("newcomer0") {
		t.Fatal("a newcomer holding one got a second while the reserve is taken")
	}
}
