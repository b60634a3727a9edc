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
	for _, want := range []string{"ceiling", "xftpd-disk", "skipped: --no-s3", "file", "no parity", "load average"} {
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
	for sec, n := range map[string]int{"ceiling": 2, "minimum": 2, "xftpd-disk": 2, "file": 2} {
		if got[sec] != n {
			t.Errorf("%s: %d measured rows, want %d", sec, got[sec], n)
		}
	}
	for _, r := range rep.Rows {
		if (r.Section == "xftpd-disk" || r.Section == "minimum") && r.Ratio == 0 {
			t.Errorf("%s %s has no ratio to the ceiling", r.Section, r.Op)
		}
	}
}
