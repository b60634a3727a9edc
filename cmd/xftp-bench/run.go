package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
)

// row is one line of the table.
type row struct {
	Section    string  `json:"section"`
	Op         string  `json:"op"`
	Size       int64   `json:"size"`
	Conc       int     `json:"concurrency"`
	Ops        int64   `json:"ops"`
	Seconds    float64 `json:"seconds"`
	MBps       float64 `json:"mb_per_s"`
	OpsPerSec  float64 `json:"ops_per_s"`
	P50ms      float64 `json:"p50_ms"`
	P99ms      float64 `json:"p99_ms"`
	CPUPerGB   float64 `json:"cpu_s_per_gb,omitempty"`
	PeakRSSMiB float64 `json:"peak_rss_mib,omitempty"`
	Ratio      float64 `json:"ratio,omitempty"`
	// Every repetition's ratio to the ceiling, and (xftpd-disk,
	// xftp-minimum) to the minimum; with --repeat the row is the median
	// repetition.
	Ratios    []float64 `json:"ratios,omitempty"`
	OfMinimum []float64 `json:"of_minimum,omitempty"`
	// xftpd-xftp: every repetition's ratio to xftpd-disk and to the XFTP
	// minimum.
	OfXftpd       []float64 `json:"of_xftpd_disk,omitempty"`
	OfXFTPMinimum []float64 `json:"of_xftp_minimum,omitempty"`
	RatioTo       string    `json:"ratio_to,omitempty"`
	Note          string    `json:"note,omitempty"`
	Err           string    `json:"error,omitempty"`
}

type machine struct {
	NumCPU     int    `json:"nproc"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPU        string `json:"cpu"`
	Go         string `json:"go"`
	Kernel     string `json:"kernel"`
	LoadStart  string `json:"load_start"`
	LoadEnd    string `json:"load_end"`
	Started    string `json:"started"`
	Took       string `json:"took"`
}

// thisMachine describes the machine a run starts on at started.
func thisMachine(started time.Time) machine {
	return machine{
		NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), CPU: cpuModel(), Go: runtime.Version(),
		Kernel: readTrim("/proc/sys/kernel/osrelease"), LoadStart: loadAvg(), Started: started.UTC().Format(time.RFC3339),
	}
}

// scratchDir makes a run's scratch directory. The returned func removes
// it, unless keep: then its name goes to logw and it stays.
func scratchDir(prefix string, keep bool, logw io.Writer) (string, func(), error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", nil, err
	}
	if keep {
		fmt.Fprintln(logw, "scratch directory:", dir)
		return dir, func() {}, nil
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

// writeJSONReport writes rep as indented JSON to path, unless path is
// empty (no --json).
func writeJSONReport(path string, rep any) error {
	if path == "" {
		return nil
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

type report struct {
	Machine machine `json:"machine"`
	Config  *config `json:"config"`
	Rows    []row   `json:"rows"`
}

func newRow(section, op string, size int64, conc int, r loadResult, err error) row {
	rw := row{Section: section, Op: op, Size: size, Conc: conc}
	if err != nil {
		rw.Err = err.Error()
		return rw
	}
	s := r.Elapsed.Seconds()
	rw.Ops, rw.Seconds = r.Ops, s
	rw.MBps = float64(r.Bytes) / 1e6 / s
	rw.OpsPerSec = float64(r.Ops) / s
	rw.P50ms = float64(percentile(r.Latencies, 0.50)) / 1e6
	rw.P99ms = float64(percentile(r.Latencies, 0.99)) / 1e6
	if r.ServerCPU > 0 && r.Bytes > 0 {
		rw.CPUPerGB = r.ServerCPU.Seconds() / (float64(r.Bytes) / 1e9)
	}
	rw.PeakRSSMiB = float64(r.ServerPeakRSS) / (1 << 20)
	return rw
}

// relate sets rw's ratio to its baseline's throughput.
func relate(rw *row, base row, name string) {
	if rw.Err == "" && base.Err == "" && base.MBps > 0 {
		rw.Ratio = rw.MBps / base.MBps
		rw.RatioTo = name
	}
}

func run(ctx context.Context, cfg *config, out, logw io.Writer) error {
	start := time.Now()
	rep := &report{Config: cfg, Machine: thisMachine(start)}
	dir, cleanup, err := scratchDir("xftp-bench-", cfg.Keep, logw)
	if err != nil {
		return err
	}
	defer cleanup()
	logf := func(format string, a ...any) { fmt.Fprintf(logw, "# "+format+"\n", a...) }
	logf("load average %s; building xftpd and xftp", rep.Machine.LoadStart)
	if err := buildBinaries(ctx, cfg, dir); err != nil {
		return err
	}
	if len(cfg.Ops) == 0 {
		cfg.Ops = []string{"upload", "download"}
	}
	cfg.Repeat = max(cfg.Repeat, 1)
	spec := loadSpec{Warmup: cfg.Warmup, Duration: cfg.Duration, MaxOps: cfg.MaxOps}
	payloads := map[int64]payload{}
	for _, s := range cfg.Sizes {
		payloads[s] = newPayload(s)
	}

	// 1 and 2: ceiling and xftpd on disk, measured cell by cell next to
	// each other so that background load affects both alike.
	ceiling, base, err := startCeiling(dir)
	if err != nil {
		return err
	}
	defer ceiling.stop()
	// The minimum cells run in a process of their own, so that neither
	// set of cells inherits the other's heap in its RSS figures.
	minimum, minBase, err := startCeiling(dir)
	if err != nil {
		return err
	}
	defer minimum.stop()
	for _, size := range cfg.Sizes {
		p := payloads[size]
		for _, op := range cfg.Ops {
			for _, n := range cfg.Conc {
				var runs [][]row
				for range cfg.Repeat {
					if err := ctx.Err(); err != nil {
						return err
					}
					ops, closeAll := ceilingOps(base, op, p.data, n, cfg.Shared)
					r, err := runLoad(ctx, spec, ceiling.pid(), ops)
					closeAll()
					c := newRow("ceiling", op, size, n, r, err)
					m := minimumCell(ctx, spec, minimum.pid(), minBase, op, p, n, cfg.Shared)
					x := xftpdCell(ctx, cfg, dir, spec, op, p, n, backendConfig{}, "xftpd-disk")
					rows := []row{c, m, x}
					if !cfg.NoXFTP {
						xm := xftpMinimumCell(ctx, spec, minimum.pid(), minBase, op, p, n, cfg.Shared)
						xx := xftpdXFTPCell(ctx, cfg, dir, spec, op, p, n)
						rows = append(rows, xm, xx)
					}
					for i := range rows[1:] {
						relate(&rows[1+i], c, "ceiling")
					}
					for _, r := range rows {
						logf("%s", shortLine(r))
					}
					runs = append(runs, rows)
				}
				rep.Rows = append(rep.Rows, medianRun(runs)...)
			}
		}
	}
	ceiling.stop() // the CPU is the next sections'
	minimum.stop()

	// 3: MinIO and Redis.
	if cfg.NoS3 {
		rep.Rows = append(rep.Rows, row{Section: "xftpd-s3", Note: "skipped: --no-s3"})
	} else if rows, err := s3Section(ctx, cfg, dir, spec, payloads, logf); err != nil {
		rep.Rows = append(rep.Rows, row{Section: "xftpd-s3", Note: "skipped: " + err.Error()})
		logf("S3 section skipped: %v", err)
	} else {
		rep.Rows = append(rep.Rows, rows...)
	}

	// 4: whole files.
	if !cfg.NoFile {
		rows, err := fileSection(ctx, cfg, dir, logf)
		if err != nil {
			rows = append(rows, row{Section: "file", Op: "round trip", Size: cfg.FileSize, Err: err.Error()})
		}
		rep.Rows = append(rep.Rows, rows...)
	}

	rep.Machine.LoadEnd = loadAvg()
	rep.Machine.Took = time.Since(start).Round(time.Second).String()
	printReport(out, rep)
	if err := writeJSONReport(cfg.JSON, rep); err != nil {
		return err
	}
	for _, r := range rep.Rows {
		if r.Err != "" {
			return fmt.Errorf("some cells failed (see the table)")
		}
	}
	return nil
}

// payload is a chunk body and its digest.
type payload struct {
	data   []byte
	digest [32]byte
}

func newPayload(size int64) payload {
	p := payload{data: make([]byte, size)}
	rand.Read(p.data)
	p.digest = sha256.Sum256(p.data)
	return p
}

func startCeiling(dir string) (*child, string, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), roleEnv+"=ceiling", dirEnv+"="+dir)
	c, base, err := startChild("ceiling", dir, cmd, true)
	return c, base, err
}

// xftpdCell measures one cell on a fresh xftpd process.
func xftpdCell(ctx context.Context, cfg *config, dir string, spec loadSpec, op string, p payload, n int, b backendConfig, section string) row {
	size := int64(len(p.data))
	fail := func(err error) row { return newRow(section, op, size, n, loadResult{}, err) }
	srv, addr, err := startXftpd(cfg.XftpdBin, dir, fmt.Sprintf("%s-%s-%d-%d", section, op, size, n), b)
	if err != nil {
		return fail(err)
	}
	defer stopXftpd(srv, dir)
	clients := xftpdClients(addr, n, cfg.Shared)
	defer closeClients(clients)
	var ops []opFunc
	switch op {
	case "upload":
		ops = xftpdUploadOps(clients, p.data, p.digest, false)
	case "download":
		refs, err := precreate(ctx, addr, p.data, p.digest, min(n, 16))
		if err != nil {
			return fail(err)
		}
		ops = xftpdDownloadOps(clients, refs, size)
	}
	r, err := runLoad(ctx, spec, srv.pid(), ops)
	if err != nil {
		err = fmt.Errorf("%w (server log: %s)", err, srv.tail())
	}
	return newRow(section, op, size, n, r, err)
}

// Rows of one repetition of a cell, measured back to back in this order;
// the last two only without --no-xftp.
const (
	rowCeiling = iota
	rowMinimum
	rowXftpd
	rowXFTPMinimum
	rowXftpdXFTP
)

// medianRun returns the repetition of a cell whose xftpd-disk ratio to the
// ceiling is the median (the lower middle one for an even count), its rows
// noting the ranges over all of them: the minimum's and xftpd-disk's
// ratios to the ceiling, xftpd-disk's to the minimum, the XFTP minimum's
// to the minimum and xftpd-xftp's to xftpd-disk and to the XFTP minimum.
// Each repetition's rows were measured back to back.
func medianRun(runs [][]row) []row {
	for _, r := range runs {
		for _, x := range r {
			if x.Err != "" {
				return r // a failure is shown, never outvoted
			}
		}
	}
	sorted := slices.Clone(runs)
	slices.SortStableFunc(sorted, func(a, b []row) int { return cmp.Compare(a[rowXftpd].Ratio, b[rowXftpd].Ratio) })
	out := slices.Clone(sorted[(len(sorted)-1)/2])
	m, x := &out[rowMinimum], &out[rowXftpd]
	of := func(a, b row) float64 { return a.MBps / b.MBps }
	for _, r := range runs {
		m.Ratios = append(m.Ratios, r[rowMinimum].Ratio)
		x.Ratios = append(x.Ratios, r[rowXftpd].Ratio)
		x.OfMinimum = append(x.OfMinimum, of(r[rowXftpd], r[rowMinimum]))
	}
	x.Note = fmt.Sprintf("%.2f of minimum", of(*x, *m))
	if len(runs) > 1 {
		m.Note = fmt.Sprintf("median of %d; %s", len(runs), spread(m.Ratios))
		x.Note += fmt.Sprintf("; median of %d; %s, of minimum %s", len(runs), spread(x.Ratios), spread(x.OfMinimum))
	}
	if len(out) <= rowXftpdXFTP {
		return out
	}
	xm, xx := &out[rowXFTPMinimum], &out[rowXftpdXFTP]
	for _, r := range runs {
		xm.OfMinimum = append(xm.OfMinimum, of(r[rowXFTPMinimum], r[rowMinimum]))
		xx.OfXftpd = append(xx.OfXftpd, of(r[rowXftpdXFTP], r[rowXftpd]))
		xx.OfXFTPMinimum = append(xx.OfXFTPMinimum, of(r[rowXftpdXFTP], r[rowXFTPMinimum]))
	}
	xm.Note = fmt.Sprintf("%.2f of minimum", of(*xm, *m))
	xx.Note = fmt.Sprintf("%.2f of xftpd-disk, %.2f of xftp-minimum", of(*xx, *x), of(*xx, *xm))
	if len(runs) > 1 {
		// The targets are these ratios: their own medians, not only the
		// chosen repetition's.
		xm.Note += fmt.Sprintf("; %s", spread(xm.OfMinimum))
		xx.Note += fmt.Sprintf("; medians %.2f (%s), %.2f (%s)", median(xx.OfXftpd), spread(xx.OfXftpd), median(xx.OfXFTPMinimum), spread(xx.OfXFTPMinimum))
	}
	return out
}

// median is the median of rs (the mean of the middle two for an even count).
func median(rs []float64) float64 {
	if len(rs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(rs))
	return (s[(len(s)-1)/2] + s[len(s)/2]) / 2
}

// spread formats the range of ratios.
func spread(rs []float64) string {
	if len(rs) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f–%.2f", slices.Min(rs), slices.Max(rs))
}

// minimumCell measures the minimum work (minimum.go) on a server process
// of the ceiling's kind, whose pid is pid.
func minimumCell(ctx context.Context, spec loadSpec, pid int, base, op string, p payload, n int, shared bool) row {
	return minimumRow(ctx, "minimum", minimumOps, spec, pid, base, op, p, n, shared)
}

// minimumOpsFunc makes the load of a minimum section (native or XFTP).
type minimumOpsFunc func(ctx context.Context, base, op string, p payload, workers int, shared bool) ([]opFunc, func(), error)

// minimumRow runs one cell of a minimum section on the minimum server and
// empties its store afterwards, whatever happened.
func minimumRow(ctx context.Context, section string, mkOps minimumOpsFunc, spec loadSpec, pid int, base, op string, p payload, n int, shared bool) row {
	ops, closeAll, err := mkOps(ctx, base, op, p, n, shared)
	var r loadResult
	if err == nil {
		r, err = runLoad(ctx, spec, pid, ops)
	}
	closeAll()
	hc := newBareClient()
	if rerr := minimumReset(ctx, hc, base); err == nil {
		err = rerr
	}
	hc.CloseIdleConnections()
	return newRow(section, op, int64(len(p.data)), n, r, err)
}

func readTrim(path string) string {
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}

func shortLine(r row) string {
	if r.Err != "" {
		return fmt.Sprintf("%-12s %-8s %6s x%-3d error: %s", r.Section, r.Op, humanize.IBytes(uint64(r.Size)), r.Conc, r.Err)
	}
	return fmt.Sprintf("%-12s %-8s %6s x%-3d %8.1f MB/s %8.1f ops/s", r.Section, r.Op, humanize.IBytes(uint64(r.Size)), r.Conc, r.MBps, r.OpsPerSec)
}
