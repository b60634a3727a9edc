package httpserver

import (
	"fmt"
	"testing"
)

// TestInflightIsSharedFairly: one source cannot take every request slot;
// past 3/4 of them, a source holding 8 gets no more, and a newcomer does
// (issue 20, item 20).
func TestInflightIsSharedFairly(t *testing.T) {
	f := inflight{perSource: 40, total: 64, bySource: map[string]int{}}
	n := 0
	for f.admit("a") {
		n++
	}
	if n != 40 {
		t.Fatalf("one source got %d slots, want its share of 40", n)
	}
	for i := 0; i < 8; i++ {
		if !f.admit("b") {
			t.Fatalf("a second source was refused its slot %d at 48 of 64", i)
		}
	}
	if f.admit("b") {
		t.Fatal("past 3/4 of the slots a source holding 8 got another")
	}
	for i := 0; i < 8; i++ {
		if !f.admit(fmt.Sprint("newcomer", i)) {
			t.Fatalf("newcomer %d refused at %d of 64", i, f.n)
		}
	}
	if f.n != 56 {
		t.Fatalf("%d in flight", f.n)
	}
	f.release("a")
	if f.bySource["a"] != 39 || f.n != 55 {
		t.Fatalf("release: %d for a, %d in all", f.bySource["a"], f.n)
	}
}
