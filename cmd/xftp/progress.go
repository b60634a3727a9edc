package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/xftp/xftp/client"
)

// reporter shows a transfer's progress: a bar with throughput and ETA on a
// terminal, plain lines otherwise, JSON lines for apps (--json), or nothing.
type reporter struct {
	mu   sync.Mutex
	w    io.Writer
	mode string // "bar", "lines", "json", "quiet"
	bar  *progressbar.ProgressBar
}

func newReporter(w io.Writer, quiet, asJSON bool) *reporter {
	r := &reporter{w: w, mode: "lines"}
	switch {
	case asJSON:
		r.mode = "json"
	case quiet:
		r.mode = "quiet"
	default:
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			r.mode = "bar"
		}
	}
	return r
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
	switch r.mode {
	case "quiet":
	case "json":
		je := jsonEvent{Event: "chunk", Op: e.Op, Chunk: e.Chunk, Chunks: e.Chunks, Done: e.Done, Total: e.Total}
		if e.Retry {
			je.Event, je.Error = "retry", e.Err.Error()
		}
		b, _ := json.Marshal(je)
		fmt.Fprintf(r.w, "%s\n", b)
	case "bar":
		if e.Retry {
			return // the bar stalls visibly; the final error says why
		}
		if r.bar == nil {
			r.bar = progressbar.NewOptions64(e.Total, progressbar.OptionSetWriter(r.w), progressbar.OptionShowBytes(true),
				progressbar.OptionSetDescription(e.Op), progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true),
				progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish(), progressbar.OptionFullWidth())
		}
		r.bar.Set64(e.Done)
	case "lines":
		if e.Retry {
			fmt.Fprintf(r.w, "%s chunk %d/%d: retrying after: %v\n", e.Op, e.Chunk, e.Chunks, e.Err)
			return
		}
		fmt.Fprintf(r.w, "%s chunk %d/%d done (%s of %s)\n", e.Op, e.Chunk, e.Chunks,
			humanize.IBytes(uint64(e.Done)), humanize.IBytes(uint64(e.Total)))
	}
}

// finish clears the bar before the summary.
func (r *reporter) finish() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bar != nil {
		r.bar.Finish()
		r.bar = nil
	}
}

// progress returns the client callback, or nil when quiet.
func (r *reporter) progress() func(client.Event) {
	if r.mode == "quiet" {
		return nil
	}
	return r.event
}
