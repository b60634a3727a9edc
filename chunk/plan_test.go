package chunk

import (
	"bufio"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// parseAmount parses "7MiB", "48KiB+1" or "1MiB+768KiB".
func parseAmount(t *testing.T, s string) int64 {
	t.Helper()
	var total int64
	for term := range strings.SplitSeq(s, "+") {
		mult := int64(1)
		switch {
		case strings.HasSuffix(term, "KiB"):
			mult, term = 1<<10, strings.TrimSuffix(term, "KiB")
		case strings.HasSuffix(term, "MiB"):
			mult, term = 1<<20, strings.TrimSuffix(term, "MiB")
		}
		n, err := strconv.ParseInt(term, 10, 64)
		if err != nil {
			t.Fatalf("bad amount %q: %v", s, err)
		}
		total += n * mult
	}
	return total
}

func TestPlanVectors(t *testing.T) {
	f, err := os.Open("testdata/plan.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		in, out, ok := strings.Cut(line, " -> ")
		if !ok {
			t.Fatalf("bad line %q", line)
		}
		var want []int64
		for _, item := range strings.Fields(out) {
			size, count := item, 1
			if a, b, ok := strings.Cut(item, "*"); ok {
				size = a
				if count, err = strconv.Atoi(b); err != nil {
					t.Fatalf("bad line %q", line)
				}
			}
			for range count {
				want = append(want, parseAmount(t, size))
			}
		}
		payload := parseAmount(t, in)
		got := Plan(payload)
		if !slices.Equal(got, want) {
			t.Errorf("Plan(%s = %d) = %v, want %v", in, payload, got, want)
		}
		n++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 20 {
		t.Fatalf("read only %d vectors", n)
	}
}

// TestPlanProperties checks the plan's invariants over many payloads,
// including the ones the padding produces.
func TestPlanProperties(t *testing.T) {
	for payload := int64(0); payload <= 9<<20; payload += 4093 {
		sizes := Plan(payload)
		var sum int64
		for i, s := range sizes {
			if !slices.Contains(DefaultSizes(), s) {
				t.Fatalf("Plan(%d)[%d] = %d, not a default size", payload, i, s)
			}
			if i > 0 && s > sizes[i-1] {
				t.Fatalf("Plan(%d) = %v: not large first", payload, sizes)
			}
			sum += s
		}
		if sum < payload || len(sizes) == 0 {
			t.Fatalf("Plan(%d) = %v holds only %d bytes", payload, sizes, sum)
		}
	}
}

func TestDefaultSizesIsFresh(t *testing.T) {
	a := DefaultSizes()
	a[0] = 1
	if DefaultSizes()[0] != Size64K {
		t.Fatal("DefaultSizes returned shared storage")
	}
}
