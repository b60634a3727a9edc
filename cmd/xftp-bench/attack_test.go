package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAttackRun runs every default attack at tiny sizes against a real xftpd so
// the command cannot rot. It asserts that each phase measured the client,
// that each attack reached the relay, and that one source's connections
// over conns_per_source (64) were refused; never how fast anything was.
func TestAttackRun(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: builds xftpd and starts it")
	}
	kinds := defaultKinds()
	jsonPath := filepath.Join(t.TempDir(), "attack.json")
	cfg := &attackConfig{
		Duration: 300 * time.Millisecond, Ramp: 20 * time.Second, Repeat: 1,
		Kinds: kinds, Sources: []int{1, 3}, Conns: 70, H2Conns: 2, Streams: 4, FloodConns: 2,
		Size: 64 << 10, MaxRounds: 50, Goal: 2, JSON: jsonPath,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out, log bytes.Buffer
	rep, err := runAttackBench(ctx, cfg, &out, &log)
	t.Logf("output:\n%s", out.String())
	if err != nil {
		t.Fatalf("attack: %v\n%s", err, log.String())
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var got attackReport
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("the JSON does not parse: %v", err)
	}
	if len(got.Rows) != len(rep.Rows) {
		t.Fatalf("JSON has %d rows, the run %d", len(got.Rows), len(rep.Rows))
	}
	// A baseline and two source counts per attack.
	if want := 3 * (len(kinds) - 1); len(rep.Rows) != want {
		t.Fatalf("%d rows, want %d", len(rep.Rows), want)
	}
	if rep.Relay.memBytes <= 0 || rep.Relay.Limits.ConnsPerSource != 64 {
		t.Errorf("relay limits %+v: want a memory limit and 64 connections per source (the defaults)", rep.Relay)
	}
	for i, r := range rep.Rows {
		if r.Err != "" || r.Rounds == 0 || r.Ping.N == 0 || r.Upload.N == 0 || r.Download.N == 0 {
			t.Errorf("%s from %d: error %q, %d rounds, %d/%d/%d samples", r.Kind, r.Sources, r.Err, r.Rounds, r.Ping.N, r.Upload.N, r.Download.N)
		}
		if r.PeakRSSMiB <= 0 || r.ServerFDs <= 0 {
			t.Errorf("%s from %d: peak RSS %.1f MiB, %d fds: not read", r.Kind, r.Sources, r.PeakRSSMiB, r.ServerFDs)
		}
		if r.Kind == "none" {
			continue
		}
		if r.Baseline != i-1 && r.Baseline != i-2 || rep.Rows[r.Baseline].Kind != "none" {
			t.Errorf("%s from %d: baseline row %d", r.Kind, r.Sources, r.Baseline)
		}
		if r.Verdict == "" || r.Ping.Ratio == 0 {
			t.Errorf("%s from %d: not judged (verdict %q, ping ratio %v)", r.Kind, r.Sources, r.Verdict, r.Ping.Ratio)
		}
		if r.Attack.Opened == 0 {
			t.Errorf("%s from %d: the attack opened no connection: %+v", r.Kind, r.Sources, r.AttackEnd)
		}
		if strings.HasPrefix(r.Kind, "h2-") && r.AttackEnd.Frames == 0 {
			t.Errorf("%s from %d: no flood frame sent: %+v", r.Kind, r.Sources, r.AttackEnd)
		}
		// 70 connections from one source: the relay serves at most 64.
		if r.Sources == 1 && r.Conns == 70 && r.AttackEnd.Failed+r.AttackEnd.Cut < 6 {
			t.Errorf("%s from one source: %+v, want at least 6 of 70 refused", r.Kind, r.AttackEnd)
		}
	}
	for _, want := range []string{"ping p50/p99 ms", "conn-flood:", "load average"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

func TestJudge(t *testing.T) {
	base := attackRow{Kind: "none", Ping: opStats{N: 10, P99ms: 1}, Upload: opStats{N: 10, P99ms: 10}, Download: opStats{N: 10, P99ms: 10}}
	for _, c := range []struct {
		name string
		r    attackRow
		want string
	}{
		{"within", attackRow{Ping: opStats{N: 10, P99ms: 2}, Upload: opStats{N: 10, P99ms: 5}, Download: opStats{N: 10, P99ms: 20}, PeakRSSMiB: 100}, "ok"},
		{"slow ping", attackRow{Ping: opStats{N: 10, P99ms: 2.5}, Upload: opStats{N: 10, P99ms: 5}, Download: opStats{N: 10, P99ms: 5}}, "MISSED: ping p99 2.5x"},
		{"failures and memory", attackRow{Ping: opStats{N: 10, P99ms: 1}, Upload: opStats{N: 10, P99ms: 5}, Download: opStats{N: 10, P99ms: 5}, Errors: 3, PeakRSSMiB: 300},
			"MISSED: 3 failed, RSS 300 MiB over memory_limit"},
		{"no downloads", attackRow{Ping: opStats{N: 10, P99ms: 1}, Upload: opStats{N: 10, P99ms: 5}}, "MISSED: download not measured"},
	} {
		r := c.r
		judge(&r, base, 2, 192<<20)
		if r.Verdict != c.want {
			t.Errorf("%s: %q, want %q", c.name, r.Verdict, c.want)
		}
	}
}

// TestPooledRow: repetitions pool their samples (the percentiles are of
// all of them) and keep the largest memory.
func TestPooledRow(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var d []time.Duration
		for _, x := range v {
			d = append(d, time.Duration(x)*time.Millisecond)
		}
		return d
	}
	var p pooledRow
	p.add(attackRow{Kind: "none", PeakRSSMiB: 50, CPUPercent: 10}, goodLats{ping: ms(1, 2, 3), upload: ms(10), download: ms(5), rounds: 1})
	p.add(attackRow{Kind: "none", PeakRSSMiB: 40, CPUPercent: 30, FirstError: "x"}, goodLats{ping: ms(4, 100), upload: ms(20), download: ms(6), rounds: 1, errors: 1})
	r := p.finish()
	if r.Repeats != 2 || r.Rounds != 2 || r.Errors != 1 || r.FirstError != "x" {
		t.Errorf("repeats %d, rounds %d, errors %d, first error %q", r.Repeats, r.Rounds, r.Errors, r.FirstError)
	}
	if r.Ping.N != 5 || r.Ping.P50ms != 3 || r.Ping.P99ms != 4 || r.Upload.P99ms != 10 {
		t.Errorf("ping %+v, upload %+v: want the percentiles of all samples", r.Ping, r.Upload)
	}
	if r.PeakRSSMiB != 50 || r.CPUPercent != 20 {
		t.Errorf("peak RSS %v (want the largest, 50), CPU %v (want the mean, 20)", r.PeakRSSMiB, r.CPUPercent)
	}
}
