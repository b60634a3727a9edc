package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"
	"github.com/xftp/xftp/api/httpclient"
)

const (
	// soakOpTimeout bounds one operation, so that a server that stops
	// answering turns into failed operations rather than a silent hang.
	soakOpTimeout = time.Minute
	// soakFailStreak: the run stops when operations have failed, and none
	// has succeeded, for this long.
	soakFailStreak = 30 * time.Second
	// soakMinOpsForRate is how many operations must have been attempted
	// before the failure rate can stop a run early: one failure among the
	// first few operations is not yet "more than 1%".
	soakMinOpsForRate = 100
	// soakWarmup is excluded from the first RSS window.
	soakWarmup = 30 * time.Second
)

// soakConfig is one soak run's settings.
type soakConfig struct {
	Duration time.Duration `json:"duration_ns"`
	Interval time.Duration `json:"interval_ns"`
	Conc     int           `json:"concurrency"`
	Size     int64         `json:"size"`
	JSON     string        `json:"-"`
	XftpdBin string        `json:"-"`
	Keep     bool          `json:"-"`
}

// soakSample is one reading of the server process and of the work done
// since the previous reading.
type soakSample struct {
	Elapsed    float64 `json:"elapsed_s"`
	Ops        int64   `json:"ops"`
	Bytes      int64   `json:"bytes"`
	Errors     int64   `json:"errors"`
	OpsPerSec  float64 `json:"ops_per_s"`
	MBps       float64 `json:"mb_per_s"`
	RSSMiB     float64 `json:"rss_mib"`      // VmRSS
	AnonMiB    float64 `json:"rss_anon_mib"` // RssAnon: heap and stacks
	FileMiB    float64 `json:"rss_file_mib"` // RssFile: mapped files (the records database)
	PeakRSSMiB float64 `json:"peak_rss_mib"` // VmHWM, since the process started
	CPUPercent float64 `json:"cpu_percent"`  // of one core, over the interval
	FDs        int     `json:"fds"`
}

// soakSummary compares the start of the run with its end.
type soakSummary struct {
	Seconds       float64    `json:"seconds"`
	Ops           int64      `json:"ops"`
	Uploads       int64      `json:"uploads"`
	Downloads     int64      `json:"downloads"`
	Deletes       int64      `json:"deletes"`
	Bytes         int64      `json:"bytes"`
	Errors        int64      `json:"errors"`
	FirstError    string     `json:"first_error,omitempty"`
	MBps          float64    `json:"mb_per_s"`
	CPUPercent    float64    `json:"cpu_percent"`
	Warmup        float64    `json:"warmup_s"`
	FirstWindow   [2]float64 `json:"first_window_s"`
	LastWindow    [2]float64 `json:"last_window_s"`
	FirstMaxRSS   float64    `json:"first_window_max_rss_mib"`
	LastMaxRSS    float64    `json:"last_window_max_rss_mib"`
	RSSGrowthMiB  float64    `json:"rss_growth_mib"`
	RSSRatio      float64    `json:"rss_ratio"`
	PeakRSSMiB    float64    `json:"peak_rss_mib"` // VmHWM at the last sample
	FDsFirst      int        `json:"fds_first"`
	FDsLast       int        `json:"fds_last"`
	StoppedEarly  string     `json:"stopped_early,omitempty"`
	ServerLogTail string     `json:"server_log_tail,omitempty"`
}

type soakReport struct {
	Machine machine      `json:"machine"`
	Config  *soakConfig  `json:"config"`
	Samples []soakSample `json:"samples"`
	Summary soakSummary  `json:"summary"`
}

func soakCommand() *cobra.Command {
	var (
		cfg     soakConfig
		sizeStr string
	)
	cmd := &cobra.Command{
		Use:   "soak",
		Short: "Load one xftpd for a long time and watch its memory and file descriptors",
		Long: `soak starts one xftpd (disk store) on 127.0.0.1 and keeps --conc workers
busy for --duration. Each worker loops: create and upload a chunk of --size
(fresh sender key, one recipient), download it once through the recipient
(re-encrypted by the server), delete it through the sender. Every --interval
it prints the server's VmRSS, VmHWM, CPU and open file descriptors, and at
the end compares the largest VmRSS in the first and the last fifth of the run
after a 30 s warm-up. It reports numbers; it judges none.

The run stops early, with an error, when more than 1% of operations fail or
when operations have failed for 30 s with none succeeding. MB is 10^6 bytes.`,
		Args:          cobra.NoArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			size, err := humanize.ParseBytes(sizeStr)
			if err != nil || size == 0 {
				return fmt.Errorf("--size: %q is not a size", sizeStr)
			}
			cfg.Size = int64(size)
			switch {
			case cfg.Conc < 1:
				return errors.New("--conc: must be at least 1")
			case cfg.Duration <= 0:
				return errors.New("--duration: must be positive")
			case cfg.Interval <= 0:
				return errors.New("--interval: must be positive")
			}
			_, err = soak(cmd.Context(), &cfg, cmd.OutOrStdout(), cmd.ErrOrStderr())
			return err
		},
	}
	fl := cmd.Flags()
	fl.DurationVar(&cfg.Duration, "duration", 10*time.Minute, "how long to run")
	fl.DurationVar(&cfg.Interval, "interval", 10*time.Second, "time between samples")
	fl.IntVar(&cfg.Conc, "conc", 64, "concurrent workers, one client (one connection) each")
	fl.StringVar(&sizeStr, "size", "4MiB", "chunk size")
	fl.StringVar(&cfg.JSON, "json", "", "also write the samples and the summary as JSON to this file")
	fl.StringVar(&cfg.XftpdBin, "xftpd", "", "xftpd binary (default: go build ./cmd/xftpd)")
	fl.BoolVar(&cfg.Keep, "keep", false, "keep the scratch directory (log, data)")
	return cmd
}

// soakCounters is the work done so far, shared by the workers.
type soakCounters struct {
	ops, bytes, errs            atomic.Int64
	uploads, downloads, deletes atomic.Int64
	start                       time.Time
	lastOK                      atomic.Int64 // unix ns of the last success
	firstErr                    atomic.Pointer[string]
	stop                        context.CancelCauseFunc
}

// soakOp names the kinds of operation a cycle performs.
type soakOp int

const (
	soakUpload soakOp = iota // create + upload
	soakDownload
	soakDelete
)

// record counts one finished operation. An operation cut off because the
// run is over is not counted. A failure may stop the run.
func (s *soakCounters) record(ctx context.Context, op soakOp, n int64, err error) {
	if err != nil && ctx.Err() != nil {
		return
	}
	if err == nil {
		s.ops.Add(1)
		s.bytes.Add(n)
		switch op {
		case soakUpload:
			s.uploads.Add(1)
		case soakDownload:
			s.downloads.Add(1)
		case soakDelete:
			s.deletes.Add(1)
		}
		s.lastOK.Store(time.Now().UnixNano())
		return
	}
	msg := err.Error()
	s.firstErr.CompareAndSwap(nil, &msg)
	errs := s.errs.Add(1)
	attempts := s.ops.Load() + errs
	if attempts >= soakMinOpsForRate && errs*100 > attempts {
		s.stop(fmt.Errorf("%d of %d operations failed, more than 1%%; the latest: %w", errs, attempts, err))
		return
	}
	last := s.start
	if ns := s.lastOK.Load(); ns != 0 {
		last = time.Unix(0, ns)
	}
	if d := time.Since(last); d >= soakFailStreak {
		s.stop(fmt.Errorf("operations have failed for %s with none succeeding; the latest: %w", d.Round(time.Second), err))
	}
}

// soakCycle uploads a chunk (one request: create and upload), downloads it
// once and deletes it. Each operation has its own timeout; a failed
// operation is counted, and a chunk that was created is deleted even if its
// download failed.
func soakCycle(ctx context.Context, c *httpclient.Client, p payload, buf []byte, s *soakCounters) {
	size := int64(len(p.data))
	_, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		s.record(ctx, soakUpload, 0, err)
		return
	}
	rpub, rkey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		s.record(ctx, soakUpload, 0, err)
		return
	}
	opCtx, cancel := context.WithTimeout(ctx, soakOpTimeout)
	cr, err := c.CreateUploaded(opCtx, sk, size, p.digest, []ed25519.PublicKey{rpub}, bytes.NewReader(p.data))
	cancel()
	if err != nil {
		err = fmt.Errorf("upload: %w", err)
	}
	s.record(ctx, soakUpload, size, err)
	if err != nil {
		return // nothing was created (PUT /v1/chunks stores all or nothing)
	}
	opCtx, cancel = context.WithTimeout(ctx, soakOpTimeout)
	var n int64
	rc, err := c.Download(opCtx, cr.RecipientIDs[0], rkey, size)
	if err == nil {
		n, err = drain(rc, buf)
		rc.Close()
	}
	cancel()
	if err != nil {
		err = fmt.Errorf("download: %w", err)
	}
	s.record(ctx, soakDownload, n, err)

	opCtx, cancel = context.WithTimeout(ctx, soakOpTimeout)
	err = c.Delete(opCtx, cr.SenderID, sk)
	cancel()
	if err != nil {
		err = fmt.Errorf("delete: %w", err)
	}
	s.record(ctx, soakDelete, 0, err)
}

// procReading is what is read from /proc about the server at one moment.
type procReading struct {
	at    time.Time
	cpu   time.Duration
	mem   procMem
	fds   int
	ops   int64
	bytes int64
	errs  int64
}

func readProc(pid int, s *soakCounters) (procReading, error) {
	r := procReading{at: time.Now(), ops: s.ops.Load(), bytes: s.bytes.Load(), errs: s.errs.Load()}
	var err error
	if r.cpu, err = procCPU(pid); err != nil {
		return r, err
	}
	if r.mem, err = procMemory(pid); err != nil {
		return r, err
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return r, err
	}
	r.fds = len(fds)
	return r, nil
}

func newSoakSample(prev, cur procReading, t0 time.Time) soakSample {
	dt := cur.at.Sub(prev.at).Seconds()
	s := soakSample{
		Elapsed: cur.at.Sub(t0).Seconds(),
		Ops:     cur.ops - prev.ops, Bytes: cur.bytes - prev.bytes, Errors: cur.errs - prev.errs,
		RSSMiB: mib(cur.mem.rss), AnonMiB: mib(cur.mem.anon), FileMiB: mib(cur.mem.file), PeakRSSMiB: mib(cur.mem.hwm),
		FDs: cur.fds,
	}
	if dt > 0 {
		s.OpsPerSec = float64(s.Ops) / dt
		s.MBps = float64(s.Bytes) / 1e6 / dt
		s.CPUPercent = 100 * (cur.cpu - prev.cpu).Seconds() / dt
	}
	return s
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// soak runs one soak and prints it to out; see soakCommand. It returns the
// report even when the run stopped early.
func soak(ctx context.Context, cfg *soakConfig, out, logw io.Writer) (*soakReport, error) {
	started := time.Now()
	rep := &soakReport{Config: cfg, Machine: thisMachine(started)}
	dir, cleanup, err := scratchDir("xftp-bench-soak-", cfg.Keep, logw)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	xftpd, err := buildXftpd(ctx, cfg.XftpdBin, dir, logw)
	if err != nil {
		return nil, err
	}
	srv, addr, err := startXftpd(xftpd, dir, "xftpd-soak", backendConfig{})
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	if !strings.HasPrefix(addr.Host, "127.0.0.1:") {
		return nil, fmt.Errorf("xftpd listens on %s, not on 127.0.0.1", addr.Host)
	}
	pid := srv.pid()
	p := newPayload(cfg.Size)
	clients := xftpdClients(addr, cfg.Conc, false)
	defer closeClients(clients)

	stopCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	counters := &soakCounters{stop: stop}

	fmt.Fprintf(out, "# soak: one xftpd (disk store) on 127.0.0.1, %d workers, %s chunks, %s, a sample every %s\n",
		cfg.Conc, humanize.IBytes(uint64(cfg.Size)), cfg.Duration, cfg.Interval)
	fmt.Fprintln(out, "# a cycle: create+upload, download (re-encrypted), delete; ops = uploads+downloads+deletes; MB = 10^6 bytes")
	fmt.Fprintln(out, "# RSS = VmRSS (anon: heap and stacks, file: mapped files), peak = VmHWM since the server started,")
	fmt.Fprintln(out, "# CPU% of one core, fds = open file descriptors")
	fmt.Fprintf(out, "%8s %9s %9s %7s %9s %9s %9s %9s %7s %6s\n",
		"elapsed", "ops/s", "MB/s", "errors", "RSS MiB", "anon MiB", "file MiB", "peak MiB", "CPU%", "fds")
	printSample := func(s soakSample) {
		fmt.Fprintf(out, "%7.1fs %9.1f %9.1f %7d %9.1f %9.1f %9.1f %9.1f %7.1f %6d\n",
			s.Elapsed, s.OpsPerSec, s.MBps, s.Errors, s.RSSMiB, s.AnonMiB, s.FileMiB, s.PeakRSSMiB, s.CPUPercent, s.FDs)
	}

	prev, err := readProc(pid, counters)
	if err != nil {
		return nil, fmt.Errorf("reading the server's /proc entries: %w", err)
	}
	t0 := prev.at
	first := prev
	counters.start = t0
	runCtx, cancel := context.WithTimeout(stopCtx, cfg.Duration)
	defer cancel()
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, copyBufSize)
			for runCtx.Err() == nil {
				soakCycle(runCtx, c, p, buf, counters)
			}
		}()
	}

	sample := func() error {
		cur, err := readProc(pid, counters)
		if err != nil {
			return fmt.Errorf("reading the server's /proc entries: %w", err)
		}
		s := newSoakSample(prev, cur, t0)
		rep.Samples = append(rep.Samples, s)
		printSample(s)
		prev = cur
		return nil
	}
	ticker := time.NewTicker(cfg.Interval)
loop:
	for {
		select {
		case <-ticker.C:
			if err := sample(); err != nil {
				stop(err)
				break loop
			}
		case <-srv.done:
			stop(fmt.Errorf("xftpd exited: %v", srv.err))
			break loop
		case <-runCtx.Done():
			break loop
		}
	}
	ticker.Stop()
	cancel()
	wg.Wait()
	// The last, shorter interval is sampled unless it is too short to
	// say anything; the totals count it either way.
	if time.Since(prev.at) >= cfg.Interval/4 {
		select {
		case <-srv.done:
		default:
			if err := sample(); err != nil {
				stop(err)
			}
		}
	}
	end := time.Now()

	var runErr error
	sum := &rep.Summary
	switch {
	case ctx.Err() != nil:
		runErr = fmt.Errorf("interrupted: %w", ctx.Err())
	case context.Cause(stopCtx) != nil:
		runErr = context.Cause(stopCtx)
	}
	if runErr != nil {
		sum.StoppedEarly = runErr.Error()
		sum.ServerLogTail = srv.tail()
	}
	sum.Seconds = end.Sub(t0).Seconds()
	sum.Ops, sum.Bytes, sum.Errors = counters.ops.Load(), counters.bytes.Load(), counters.errs.Load()
	sum.Uploads, sum.Downloads, sum.Deletes = counters.uploads.Load(), counters.downloads.Load(), counters.deletes.Load()
	if e := counters.firstErr.Load(); e != nil {
		sum.FirstError = *e
	}
	if sum.Seconds > 0 {
		sum.MBps = float64(sum.Bytes) / 1e6 / sum.Seconds
	}
	if dt := prev.at.Sub(first.at).Seconds(); dt > 0 {
		sum.CPUPercent = 100 * (prev.cpu - first.cpu).Seconds() / dt
	}
	summarizeRSS(sum, rep.Samples, cfg.Duration)
	rep.Machine.LoadEnd = loadAvg()
	rep.Machine.Took = time.Since(started).Round(time.Second).String()
	printSoakSummary(out, rep)

	if runErr == nil && sum.Errors*100 > sum.Ops+sum.Errors {
		runErr = fmt.Errorf("%d of %d operations failed, more than 1%%; the first: %s", sum.Errors, sum.Ops+sum.Errors, sum.FirstError)
	}
	if runErr == nil && sum.Ops == 0 {
		runErr = errors.New("no operation completed")
	}
	if err := writeJSONReport(cfg.JSON, rep); err != nil && runErr == nil {
		runErr = err
	}
	if runErr != nil && sum.ServerLogTail != "" {
		runErr = fmt.Errorf("%w (server log: %s)", runErr, sum.ServerLogTail)
	}
	return rep, runErr
}

// summarizeRSS compares the largest VmRSS in the first and the last fifth
// of the run after its warm-up: 30 s, or the first sample if the run is
// planned for, or lasted, no longer than that. Both windows are the same length, so
// that neither maximum has more samples to draw on. A window that holds
// no sample takes the nearest one.
func summarizeRSS(sum *soakSummary, samples []soakSample, planned time.Duration) {
	if len(samples) == 0 {
		return
	}
	end := samples[len(samples)-1].Elapsed
	warm := soakWarmup.Seconds()
	if planned <= soakWarmup || end <= warm {
		warm = samples[0].Elapsed
	}
	after := samples
	for len(after) > 1 && after[0].Elapsed <= warm {
		after = after[1:]
	}
	w := (end - warm) / 5
	sum.Warmup = warm
	sum.FirstWindow = [2]float64{warm, warm + w}
	sum.LastWindow = [2]float64{end - w, end}
	sum.FirstMaxRSS, sum.LastMaxRSS = after[0].RSSMiB, after[len(after)-1].RSSMiB
	for _, s := range after {
		if s.Elapsed <= warm+w {
			sum.FirstMaxRSS = max(sum.FirstMaxRSS, s.RSSMiB)
		}
		if s.Elapsed >= end-w {
			sum.LastMaxRSS = max(sum.LastMaxRSS, s.RSSMiB)
		}
	}
	sum.RSSGrowthMiB = sum.LastMaxRSS - sum.FirstMaxRSS
	if sum.FirstMaxRSS > 0 {
		sum.RSSRatio = sum.LastMaxRSS / sum.FirstMaxRSS
	}
	sum.PeakRSSMiB = samples[len(samples)-1].PeakRSSMiB
	sum.FDsFirst, sum.FDsLast = samples[0].FDs, samples[len(samples)-1].FDs
}

func printSoakSummary(w io.Writer, rep *soakReport) {
	s := rep.Summary
	m := rep.Machine
	fmt.Fprintln(w)
	fmt.Fprintf(w, "machine: %d CPUs (GOMAXPROCS %d), %s, kernel %s, %s; load average %s at start, %s at end\n",
		m.NumCPU, m.GOMAXPROCS, m.CPU, m.Kernel, m.Go, m.LoadStart, m.LoadEnd)
	fmt.Fprintf(w, "ran %.1fs: %d ops (%d uploads, %d downloads, %d deletes), %d errors, %.1f MB/s, server CPU %.1f%% on average\n",
		s.Seconds, s.Ops, s.Uploads, s.Downloads, s.Deletes, s.Errors, s.MBps, s.CPUPercent)
	if s.FirstError != "" {
		fmt.Fprintf(w, "first error: %s\n", oneLine(s.FirstError))
	}
	if s.StoppedEarly != "" {
		fmt.Fprintf(w, "stopped early: %s\n", oneLine(s.StoppedEarly))
	}
	if len(rep.Samples) == 0 {
		fmt.Fprintln(w, "no samples: the run was shorter than --interval")
		return
	}
	fmt.Fprintf(w, "server peak RSS (VmHWM): %.1f MiB; open file descriptors: %d at the first sample, %d at the last\n",
		s.PeakRSSMiB, s.FDsFirst, s.FDsLast)
	fmt.Fprintf(w, "RSS windows after a %.1fs warm-up: first %.1f-%.1fs max %.1f MiB, last %.1f-%.1fs max %.1f MiB, ratio %.3f\n",
		s.Warmup, s.FirstWindow[0], s.FirstWindow[1], s.FirstMaxRSS, s.LastWindow[0], s.LastWindow[1], s.LastMaxRSS, s.RSSRatio)
	fmt.Fprintf(w, "RSS growth: %.1f MiB (first window max %.1f MiB, last window max %.1f MiB)\n",
		s.RSSGrowthMiB, s.FirstMaxRSS, s.LastMaxRSS)
}
