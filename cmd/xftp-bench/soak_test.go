package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSoak runs a tiny soak against a real xftpd so the command cannot rot.
// It asserts that the run produced numbers, never what they are.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: builds xftpd and starts it")
	}
	jsonPath := filepath.Join(t.TempDir(), "soak.json")
	cfg := &soakConfig{Duration: 2 * time.Second, Interval: 500 * time.Millisecond, Conc: 2, Size: 64 << 10, JSON: jsonPath}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out, log bytes.Buffer
	rep, err := soak(ctx, cfg, &out, &log)
	t.Logf("output:\n%s", out.String())
	if err != nil {
		t.Fatalf("soak: %v\n%s", err, log.String())
	}
	if !strings.Contains(out.String(), "RSS growth: ") {
		t.Errorf("output lacks the RSS growth line")
	}

	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var got soakReport
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("the JSON does not parse: %v", err)
	}
	for name, r := range map[string]*soakReport{"returned": rep, "JSON": &got} {
		s := r.Summary
		if len(r.Samples) == 0 {
			t.Errorf("%s: no samples", name)
		}
		if s.Ops == 0 || s.Uploads == 0 || s.Downloads == 0 || s.Deletes == 0 {
			t.Errorf("%s: ops %d (uploads %d, downloads %d, deletes %d), want all > 0", name, s.Ops, s.Uploads, s.Downloads, s.Deletes)
		}
		if s.Errors != 0 {
			t.Errorf("%s: %d errors, the first: %s", name, s.Errors, s.FirstError)
		}
		if s.FDsFirst <= 0 || s.FDsLast <= 0 {
			t.Errorf("%s: open file descriptors %d at the first sample, %d at the last, want > 0", name, s.FDsFirst, s.FDsLast)
		}
		if s.PeakRSSMiB <= 0 || s.FirstMaxRSS <= 0 || s.LastMaxRSS <= 0 {
			t.Errorf("%s: RSS not read: peak %.1f, first window %.1f, last window %.1f MiB", name, s.PeakRSSMiB, s.FirstMaxRSS, s.LastMaxRSS)
		}
		for i, sm := range r.Samples {
			if sm.RSSMiB <= 0 || sm.FDs <= 0 {
				t.Errorf("%s: sample %d: RSS %.1f MiB, %d fds", name, i, sm.RSSMiB, sm.FDs)
			}
		}
	}
}

func TestSummarizeRSS(t *testing.T) {
	// every10s returns samples every 10 s up to end, RSS from rss(elapsed).
	every10s := func(end float64, rss func(float64) float64) []soakSample {
		var ss []soakSample
		for e := 10.0; e <= end; e += 10 {
			ss = append(ss, soakSample{Elapsed: e, RSSMiB: rss(e), PeakRSSMiB: 300, FDs: int(e)})
		}
		return ss
	}
	tests := []struct {
		name        string
		samples     []soakSample
		planned     time.Duration
		warm        float64
		first, last [2]float64
		firstMax    float64
		lastMax     float64
	}{{
		// 10 minutes: a 30 s warm-up, then two windows of 114 s.
		name:    "ten minutes growing",
		samples: every10s(600, func(e float64) float64 { return 100 + e/10 }),
		planned: 10 * time.Minute,
		warm:    30, first: [2]float64{30, 144}, last: [2]float64{486, 600},
		firstMax: 114, lastMax: 160,
	}, {
		// The warm-up spike does not count.
		name: "spike in the warm-up",
		samples: every10s(100, func(e float64) float64 {
			if e <= 30 {
				return 500
			}
			return 100
		}),
		planned: 100 * time.Second,
		warm:    30, first: [2]float64{30, 44}, last: [2]float64{86, 100},
		firstMax: 100, lastMax: 100,
	}, {
		// Shorter than the warm-up: the first sample is the warm-up.
		name:    "short run",
		samples: every10s(30, func(e float64) float64 { return e }),
		planned: 30 * time.Second,
		warm:    10, first: [2]float64{10, 14}, last: [2]float64{26, 30},
		firstMax: 20, lastMax: 30,
	}, {
		// Planned long but stopped early: as if it had been short.
		name:    "stopped in the warm-up",
		samples: every10s(20, func(e float64) float64 { return e }),
		planned: 10 * time.Minute,
		warm:    10, first: [2]float64{10, 12}, last: [2]float64{18, 20},
		firstMax: 20, lastMax: 20,
	}, {
		name:    "one sample",
		samples: every10s(10, func(e float64) float64 { return 42 }),
		planned: 10 * time.Minute,
		warm:    10, first: [2]float64{10, 10}, last: [2]float64{10, 10},
		firstMax: 42, lastMax: 42,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s soakSummary
			summarizeRSS(&s, tt.samples, tt.planned)
			if s.Warmup != tt.warm || s.FirstWindow != tt.first || s.LastWindow != tt.last {
				t.Errorf("warm-up %v, windows %v %v; want %v, %v %v", s.Warmup, s.FirstWindow, s.LastWindow, tt.warm, tt.first, tt.last)
			}
			if s.FirstMaxRSS != tt.firstMax || s.LastMaxRSS != tt.lastMax {
				t.Errorf("window maxima %v, %v; want %v, %v", s.FirstMaxRSS, s.LastMaxRSS, tt.firstMax, tt.lastMax)
			}
			if s.RSSGrowthMiB != tt.lastMax-tt.firstMax {
				t.Errorf("growth %v, want %v", s.RSSGrowthMiB, tt.lastMax-tt.firstMax)
			}
			if s.PeakRSSMiB != 300 || s.FDsFirst != 10 || s.FDsLast != int(tt.last[1]) {
				t.Errorf("peak %v, fds %d..%d", s.PeakRSSMiB, s.FDsFirst, s.FDsLast)
			}
		})
	}
	var s soakSummary
	summarizeRSS(&s, nil, time.Minute) // no samples: nothing to compare, no panic
	if s != (soakSummary{}) {
		t.Errorf("no samples gave %+v", s)
	}
}

// TestSoakStopRules checks when failures stop a run.
func TestSoakStopRules(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name       string
		ok, failed int           // operations recorded, in that order
		lastOK     time.Duration // ago; 0: none succeeded
		started    time.Duration // ago
		stop       bool
	}{
		{name: "1 of 200 failed", ok: 199, failed: 1, lastOK: time.Second, started: time.Minute},
		{name: "2 of 200 failed", ok: 198, failed: 2, lastOK: time.Second, started: time.Minute},
		{name: "3 of 200 failed", ok: 197, failed: 3, lastOK: time.Second, started: time.Minute, stop: true},
		{name: "too few to judge the rate", ok: 10, failed: 5, lastOK: time.Second, started: time.Minute},
		{name: "failing 29 s", failed: 50, lastOK: 29 * time.Second, started: time.Minute},
		{name: "failing 31 s", failed: 50, lastOK: 31 * time.Second, started: time.Minute, stop: true},
		{name: "nothing succeeded in 31 s", failed: 50, started: 31 * time.Second, stop: true},
		{name: "nothing succeeded in 10 s", failed: 50, started: 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, stop := context.WithCancelCause(context.Background())
			defer stop(nil)
			s := &soakCounters{start: time.Now().Add(-tt.started), stop: stop}
			for range tt.ok {
				s.record(ctx, soakUpload, 1, nil)
			}
			if tt.lastOK > 0 {
				s.lastOK.Store(time.Now().Add(-tt.lastOK).UnixNano())
			}
			for range tt.failed {
				s.record(ctx, soakDownload, 0, boom)
			}
			if got := context.Cause(ctx) != nil; got != tt.stop {
				t.Errorf("stopped: %v (%v), want %v", got, context.Cause(ctx), tt.stop)
			}
			if !tt.stop && (s.ops.Load() != int64(tt.ok) || s.errs.Load() != int64(tt.failed)) {
				t.Errorf("counted %d ops, %d errors", s.ops.Load(), s.errs.Load())
			}
		})
	}

	// Operations cut off because the run is over are not failures.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := &soakCounters{start: time.Now().Add(-time.Hour), stop: func(error) { t.Error("stopped by a cut-off operation") }}
	s.record(ctx, soakDelete, 0, context.Canceled)
	if s.errs.Load() != 0 {
		t.Errorf("a cut-off operation counted as an error")
	}
}
