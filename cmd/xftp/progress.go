package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
	"golang.org/x/term"

	"github.com/xftp/xftp/client"
)

// reporter shows a transfer's progress: a bar on a terminal, drawn from
// the moment the command starts; plain lines with -v when stderr is not a
// terminal; JSON lines for apps (--json); or nothing (-q, or a script
// without -v, so that a failure leaves exactly its one error line).
//
// Sizes are IEC (KiB, MiB) everywhere, as in the summaries, and the rate
// has one definition, the summaries' too: bytes moved since the start
// divided by the time since the start.
type reporter struct {
	mu    sync.Mutex
	w     io.Writer
	mode  string // "bar", "lines", "json", "quiet"
	op    string
	start time.Time
	now   func() time.Time
	width int

	base, done, total int64 // base: bytes of earlier phases (a redirect's)
	chunk, chunks     int
	retry             string // the last retry's cause, until a chunk finishes
	drawn             bool
	stop              chan struct{}
	stopped           chan struct{}
}

func newReporter(w io.Writer, quiet, asJSON, verbose bool) *reporter {
	r := &reporter{w: w, mode: "quiet", now: time.Now}
	switch {
	case asJSON:
		r.mode = "json"
	case quiet:
	default:
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			r.mode = "bar"
			if cols, _, err := term.GetSize(int(f.Fd())); err == nil {
				r.width = cols
			}
		} else if verbose {
			r.mode = "lines"
		}
	}
	return r
}

// begin starts the clock and, on a terminal, draws the bar at once (an
// upload reads the whole file before its first chunk is sent) and redraws
// it while nothing finishes, so it never looks frozen.
func (r *reporter) begin(op string, total int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.op, r.total, r.start = op, total, r.now()
	if r.mode != "bar" {
		return
	}
	r.drawLocked()
	stop, stopped := make(chan struct{}), make(chan struct{})
	r.stop, r.stopped = stop, stopped
	go func() {
		defer close(stopped)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				r.mu.Lock()
				r.drawLocked()
				r.mu.Unlock()
			}
		}
	}()
}

// jsonEvent is one --json progress line.
type jsonEvent struct {
	Event  string `json:"event"` // "chunk", "retry"
	Op     string `json:"op"`
	Chunk  int    `json:"chunk"`
	Chunks int    `json:"chunks"`
	Done   int64  `json:"done_bytes,omitempty"`
	Total  int64  `json:"total_bytes,omitempty"`
	Error  string `json:"error,omitempty"`
}

func (r *reporter) event(e client.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.start.IsZero() {
		r.start = r.now()
	}
	if !e.Retry {
		if e.Done < r.done || (r.total != 0 && e.Total != r.total && r.done > 0) {
			r.base += r.done // a new phase: the file after its redirect
		}
		r.done, r.total, r.chunk, r.chunks, r.retry = e.Done, e.Total, e.Chunk, e.Chunks, ""
	}
	switch r.mode {
	case "json":
		je := jsonEvent{Event: "chunk", Op: e.Op, Chunk: e.Chunk, Chunks: e.Chunks, Done: e.Done, Total: e.Total}
		if e.Retry {
			je.Event, je.Error = "retry", e.Err.Error()
		}
		b, _ := json.Marshal(je)
		fmt.Fprintf(r.w, "%s\n", b)
	case "bar":
		switch {
		case e.Retry && e.Chunk == 0: // reaching the servers, before any chunk
			r.retry = "retrying to connect: " + retryCause(e.Err)
		case e.Retry:
			r.retry = fmt.Sprintf("retrying chunk %d: %s", e.Chunk, retryCause(e.Err))
		}
		r.drawLocked()
	case "lines":
		switch {
		case e.Retry && e.Chunk == 0: // reaching the servers, before any chunk
			fmt.Fprintf(r.w, "%s: retrying to connect (%s)\n", e.Op, retryCause(e.Err))
			return
		case e.Retry:
			fmt.Fprintf(r.w, "%s chunk %d/%d: retrying (%s)\n", e.Op, e.Chunk, e.Chunks, retryCause(e.Err))
			return
		}
		fmt.Fprintf(r.w, "%s chunk %d/%d done (%s of %s, %s)\n", e.Op, e.Chunk, e.Chunks,
			humanize.IBytes(uint64(e.Done)), humanize.IBytes(uint64(e.Total)), r.rateLocked())
	}
}

// retryCause is a retry's cause in a few words, without the fix: progress,
// not an error.
func retryCause(err error) string {
	c := shortCause(err)
	if c == "" {
		c = err.Error()
		if i := strings.LastIndex(c, ": "); i >= 0 {
			c = c[i+2:]
		}
	}
	if i := strings.Index(c, "): "); i >= 0 {
		c = c[:i+1]
	} else if i := strings.Index(c, ": "); i >= 0 {
		c = c[:i]
	}
	return c
}

// rateLocked is the average rate since the start, or "-" in the first half
// second (a first chunk finishing 1 ms in is not 1 TB/s).
func (r *reporter) rateLocked() string {
	d := r.now().Sub(r.start)
	if d < 500*time.Millisecond {
		return "- /s"
	}
	return rate(r.base+r.done, d) + "/s"
}

// drawLocked redraws the bar line.
func (r *reporter) drawLocked() {
	if r.mode != "bar" {
		return
	}
	line := r.barLine()
	fmt.Fprintf(r.w, "\r\x1b[K%s", line)
	r.drawn = true
}

// barLine renders "upload  [====>     ]  45%  22 MiB / 50 MiB  12 MiB/s  ETA 3s".
func (r *reporter) barLine() string {
	width := r.width
	if width <= 0 {
		width = 80
	}
	if r.total <= 0 {
		return truncate(r.op+"  starting…", width-1)
	}
	frac := float64(r.done) / float64(r.total)
	frac = max(0, min(1, frac))
	tail := fmt.Sprintf(" %3.0f%%  %s / %s  %s", frac*100, humanize.IBytes(uint64(r.done)), humanize.IBytes(uint64(r.total)), r.rateLocked())
	if d := r.now().Sub(r.start); r.done > 0 && r.done < r.total && d >= 500*time.Millisecond {
		left := time.Duration(float64(d) * float64(r.total-r.done) / float64(r.done))
		tail += "  ETA " + left.Round(time.Second).String()
	}
	if r.retry != "" {
		tail += "  " + r.retry
	}
	head := r.op + " "
	barW := min(30, width-1-len(head)-len([]rune(tail))-2)
	if barW < 10 {
		return truncate(head+tail, width-1)
	}
	fill := int(frac * float64(barW))
	bar := "[" + strings.Repeat("=", fill) + strings.Repeat(" ", barW-fill) + "]"
	if fill > 0 && fill < barW {
		bar = "[" + strings.Repeat("=", fill-1) + ">" + strings.Repeat(" ", barW-fill) + "]"
	}
	return truncate(head+bar+tail, width-1)
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n && n > 0 {
		return string(r[:n])
	}
	return s
}

// finish stops the bar and clears its line before the summary or error.
func (r *reporter) finish() {
	r.mu.Lock()
	stop, stopped := r.stop, r.stopped
	r.stop = nil
	r.mu.Unlock()
	if stop != nil {
		close(stop)
		<-stopped
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.drawn {
		fmt.Fprint(r.w, "\r\x1b[K")
		r.drawn = false
	}
}

// around routes o's warnings through the reporter, so a warning printed
// while the bar is drawn gets a line of its own and the bar comes back
// below it.
func (r *reporter) around(o client.Options) client.Options {
	next := o.Warn
	if next == nil || r.mode != "bar" {
		return o
	}
	o.Warn = func(msg string) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.drawn {
			fmt.Fprint(r.w, "\r\x1b[K")
			r.drawn = false
		}
		next(msg)
		r.drawLocked()
	}
	return o
}

// progress returns the client callback, or nil when nothing is shown.
func (r *reporter) progress() func(client.Event) {
	if r.mode == "quiet" {
		return nil
	}
	return r.event
}
