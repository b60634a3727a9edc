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

// TestMain lets the test binary play the server roles this command starts
// itself in (it re-executes os.Executable).
func TestMain(m *testing.M) {
	if role := os.Getenv(roleEnv); role != "" {
		if err := runRole(role); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestQuickRun runs a tiny configuration end to end so the command cannot
// rot. It asserts that every cell ran, never how fast.
func TestQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: builds xftpd and xftp and starts servers")
	}
	jsonPath := filepath.Join(t.TempDir(), "out.json")
	cfg := &config{
		Duration: 200 * time.Millisecond, Warmup: 50 * time.Millisecond, MaxOps: 50,
		Sizes: []int64{64 << 10}, Conc: []int{1}, S3Conc: []int{1}, FileSize: 1 << 20, Servers: 2,
		NoS3: true, JSON: jsonPath,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out, log bytes.Buffer
	if err := run(ctx, cfg, &out, &log); err != nil {
		t.Fatalf("run: %v\n%s\n%s", err, log.String(), out.String())
	}
	for _, want := range []string{"ceiling", "xftpd-disk", "xftp-minimum", "xftpd-xftp", "of xftpd-disk", "skipped: --no-s3", "file", "no parity", "load average"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, r := range rep.Rows {
		if r.Err != "" {
			t.Errorf("%s %s: %s", r.Section, r.Op, r.Err)
		}
		if r.Ops > 0 {
			got[r.Section]++
		}
	}
	// 2 ops x 1 size x 1 concurrency, and an upload and a download of the file.
	for sec, n := range map[string]int{"ceiling": 2, "minimum": 2, "xftpd-disk": 2, "xftp-minimum": 2, "xftpd-xftp": 2, "file": 2} {
		if got[sec] != n {
			t.Errorf("%s: %d measured rows, want %d", sec, got[sec], n)
		}
	}
	for _, r := range rep.Rows {
		if (r.Section == "xftpd-disk" || r.Section == "minimum" || r.Section == "xftp-minimum" || r.Section == "xftpd-xftp") && r.Ratio == 0 {
			t.Errorf("%s %s has no ratio to the ceiling", r.Section, r.Op)
		}
		if r.Section == "xftpd-xftp" && (len(r.OfXftpd) != 1 || len(r.OfXFTPMinimum) != 1) {
			t.Errorf("xftpd-xftp %s: ratios to xftpd-disk %v and to the XFTP minimum %v, want one each", r.Op, r.OfXftpd, r.OfXFTPMinimum)
		}
	}
}

func TestMedianRun(t *testing.T) {
	run := func(ceiling, minimum, xftpd float64, xftp ...float64) []row {
		rs := []row{{Section: "ceiling", MBps: ceiling}, {Section: "minimum", MBps: minimum}, {Section: "xftpd-disk", MBps: xftpd}}
		if len(xftp) == 2 {
			rs = append(rs, row{Section: "xftp-minimum", MBps: xftp[0]}, row{Section: "xftpd-xftp", MBps: xftp[1]})
		}
		for i := range rs[1:] {
			relate(&rs[1+i], rs[0], "ceiling")
		}
		return rs
	}
	runs := [][]row{run(100, 60, 50), run(100, 80, 20), run(200, 100, 80)}
	rs := medianRun(runs)
	c, m, x := rs[0], rs[1], rs[2]
	if c.MBps != 200 || x.Ratio != 0.4 {
		t.Fatalf("median run: ceiling %v, xftpd ratio %v; want the 200 MB/s run, ratio 0.4", c.MBps, x.Ratio)
	}
	if want := "0.80 of minimum; median of 3; 0.20–0.50, of minimum 0.25–0.83"; x.Note != want {
		t.Errorf("xftpd note %q, want %q", x.Note, want)
	}
	if want := "median of 3; 0.50–0.80"; m.Note != want {
		t.Errorf("minimum note %q, want %q", m.Note, want)
	}
	if len(x.Ratios) != 3 || len(x.OfMinimum) != 3 {
		t.Errorf("ratios %v, of minimum %v: want all three runs", x.Ratios, x.OfMinimum)
	}

	failed := run(100, 60, 50)
	failed[2].Err = "boom"
	if rs := medianRun(append(runs, failed)); rs[2].Err != "boom" {
		t.Errorf("a failed repetition was outvoted: %+v", rs[2])
	}

	if rs := medianRun(runs[:1]); rs[2].Note != "0.83 of minimum" {
		t.Errorf("single run note %q", rs[2].Note)
	}

	// With the XFTP rows: the same repetition is chosen by xftpd-disk's
	// ratio; xftpd-xftp is related to xftpd-disk and to the XFTP minimum.
	xruns := [][]row{run(100, 60, 50, 40, 45), run(100, 80, 20, 50, 10), run(200, 100, 80, 80, 60)}
	rs = medianRun(xruns)
	if len(rs) != 5 || rs[0].MBps != 200 {
		t.Fatalf("median run with XFTP rows: %d rows, ceiling %v", len(rs), rs[0].MBps)
	}
	if want := "0.75 of xftpd-disk, 0.75 of xftp-minimum; medians 0.75 (0.50–0.90), 0.75 (0.20–1.12)"; rs[4].Note != want {
		t.Errorf("xftpd-xftp note %q, want %q", rs[4].Note, want)
	}
	if want := "0.80 of minimum; 0.62–0.80"; rs[3].Note != want {
		t.Errorf("xftp-minimum note %q, want %q", rs[3].Note, want)
	}
	xfailed := run(100, 60, 50, 40, 45)
	xfailed[4].Err = "boom"
	if rs := medianRun(append(xruns, xfailed)); rs[4].Err != "boom" {
		t.Errorf("a failed XFTP repetition was outvoted: %+v", rs[4])
	}
}

// TestProfileRuns profiles a tiny cell of each kind, native and XFTP, so
// that the profile command cannot rot either.
func TestProfileRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: starts a relay process")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out := t.TempDir()
	for _, op := range []string{"upload", "xftp-upload", "xftp-download"} {
		withTrace := op == "xftp-upload"
		if err := profileOne(ctx, op, 64<<10, 2, 200*time.Millisecond, out, 0, withTrace); err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		if st, err := os.Stat(filepath.Join(out, op+".cpu.pprof")); err != nil || st.Size() == 0 {
			t.Errorf("%s: no CPU profile (%v)", op, err)
		}
		if st, err := os.Stat(filepath.Join(out, op+".cpu.pprof.trace")); withTrace && (err != nil || st.Size() == 0) {
			t.Errorf("%s: no execution trace (%v)", op, err)
		}
	}
}
