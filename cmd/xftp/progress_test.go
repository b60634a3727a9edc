package main

import (
	"bytes"
	"context"
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

// The bar appears the moment a transfer begins, before any chunk finishes
// (an upload first reads the whole file), and finish clears it.
func TestBarFromTheFirstMoment(t *testing.T) {
	var buf bytes.Buffer
	r := &reporter{w: &buf, mode: "bar", now: time.Now, width: 100}
	r.begin("upload", 48<<20)
	r.mu.Lock()
	first := buf.String()
	r.mu.Unlock()
	if !strings.Contains(first, "upload [") || !strings.Contains(first, "0 B / 48 MiB") {
		t.Fatalf("nothing drawn at begin: %q", first)
	}
	r.finish()
	if out := buf.String(); !strings.HasSuffix(out, "\r\x1b[K") {
		t.Fatalf("finish left the bar: %q", out)
	}
}

// Without a terminal and without -v nothing but the summary or the one
// error line reaches stderr.
func TestNoProgressLinesWithoutVerbose(t *testing.T) {
	var buf bytes.Buffer
	r := newReporter(&buf, false, false, false)
	if r.progress() != nil {
		t.Fatal("progress shown to a non-terminal without -v")
	}
	r = newReporter(&buf, false, false, true)
	r.begin("upload", 1<<20)
	r.progress()(client.Event{Op: "upload", Chunk: 1, Chunks: 1, Retry: true, Err: context.DeadlineExceeded})
	r.progress()(client.Event{Op: "upload", Chunk: 1, Chunks: 1, Done: 1 << 20, Total: 1 << 20})
	want := "upload chunk 1/1: retrying (the server did not answer in time)\nupload chunk 1/1 done (1.0 MiB of 1.0 MiB, - /s)\n"
	if buf.String() != want {
		t.Fatalf("-v lines:\n%q\nwant\n%q", buf.String(), want)
	}
}

// A warning during a transfer clears the bar's line first and the bar is
// drawn again after it.
func TestWarningDuringBar(t *testing.T) {
	var buf bytes.Buffer
	r := &reporter{w: &buf, mode: "bar", now: time.Now, width: 100}
	o := r.around(client.Options{Warn: func(msg string) { buf.WriteString("xftp: warning: " + msg + "\n") }})
	r.begin("download", 1<<20)
	o.Warn("careful")
	r.finish()
	out := buf.String()
	i := strings.Index(out, "xftp: warning: careful\n")
	if i < 0 || !strings.HasSuffix(out[:i], "\r\x1b[K") || !strings.Contains(out[i:], "download [") {
		t.Fatalf("warning not on a line of its own between bars: %q", out)
	}
}
