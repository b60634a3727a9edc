package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/xftp/xftp/client"
)

// The bar speaks IEC like the summaries, shows no rate in its first half
// second (one chunk done 1 ms in is not 1 TB/s), then the average since the
// start: the summaries' definition.
func TestBarUnitsAndRate(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(1000, 0)
	r := &reporter{w: &buf, mode: "bar", now: func() time.Time { return now }, width: 120}
	r.op, r.total, r.start = "download", 50<<20, now
	if line := r.barLine(); !strings.Contains(line, "0 B / 50 MiB") || !strings.Contains(line, "- /s") {
		t.Fatalf("first frame %q", line)
	}
	now = now.Add(time.Millisecond)
	r.event(client.Event{Op: "download", Chunk: 1, Chunks: 13, Done: 4 << 20, Total: 50 << 20})
	if line := r.barLine(); !strings.Contains(line, "- /s") || strings.Contains(line, "TB") {
		t.Fatalf("frame after 1 ms %q", line)
	}
	now = now.Add(2*time.Second - time.Millisecond)
	r.event(client.Event{Op: "download", Chunk: 2, Chunks: 13, Done: 20 << 20, Total: 50 << 20})
	line := r.barLine()
	for _, want := range []string{"20 MiB / 50 MiB", "10 MiB/s", "ETA 3s", " 40%"} {
		if !strings.Contains(line, want) {
			t.Errorf("frame %q lacks %q", line, want)
		}
	}
	if strings.Contains(line, "MB") {
		t.Errorf("frame %q uses SI units", line)
	}
}

func TestPlural(t *testing.T) {
	for n, want := range map[int]string{0: "0 chunks", 1: "1 chunk", 2: "2 chunks"} {
		if got := plural(n, "chunk"); got != want {
			t.Errorf("plural(%d) = %q, want %q", n, got, want)
		}
	}
}
