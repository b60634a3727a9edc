package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/api/httpclient"
)

// attackConfig is one attack run's settings.
type attackConfig struct {
	Duration  time.Duration `json:"duration_ns"`
	Ramp      time.Duration `json:"ramp_ns"`
	Settle    time.Duration `json:"settle_ns"`
	Kinds     []string      `json:"kinds"`
	Sources   []int         `json:"sources"`
	Conns     int           `json:"conns"`
	H2Conns   int           `json:"h2_conns"`
	Streams   int           `json:"streams"`
	Size      int64         `json:"size"`
	MaxRounds int           `json:"max_rounds"`
	Goal      float64       `json:"goal"`
	JSON      string        `json:"-"`
	XftpdBin  string        `json:"-"`
	Keep      bool          `json:"-"`
}

// attackConns is how many connections an attack of kind holds from
// sources sources: at least one per source.
func (c *attackConfig) attackConns(kind string, sources int) int {
	n := c.Conns
	if kind == "zero-window" {
		n = c.H2Conns
	}
	return max(n, sources)
}

// opStats are one operation's latencies in one phase.
type opStats struct {
	N     int     `json:"n"`
	P50ms float64 `json:"p50_ms"`
	P99ms float64 `json:"p99_ms"`
	Ratio float64 `json:"p99_ratio,omitempty"` // p99 / the baseline's p99
}

// attackRow is one phase: an attack (or none) and what the well-behaved
// client and the relay went through meanwhile.
type attackRow struct {
	Kind       string      `json:"kind"`
	Sources    int         `json:"sources,omitempty"`
	Conns      int         `json:"conns,omitempty"`
	Attack     attackStats `json:"attack"`     // when the measurement started
	AttackEnd  attackStats `json:"attack_end"` // when it ended
	ServerFDs  int         `json:"server_fds"` // when the measurement started
	MaxFDs     int         `json:"server_fds_max"`
	Ping       opStats     `json:"ping"`
	Upload     opStats     `json:"upload"`
	Download   opStats     `json:"download"`
	Rounds     int         `json:"rounds"`
	Errors     int         `json:"errors"`
	FirstError string      `json:"first_error,omitempty"`
	CPUPercent float64     `json:"server_cpu_percent"` // over the measurement, of one core
	PeakRSSMiB float64     `json:"peak_rss_mib"`       // VmHWM from the attack's start
	TCPMemMiB  float64     `json:"host_tcp_mem_mib"`   // the host's TCP buffers, largest sample
	Unsettled  string      `json:"unsettled,omitempty"`
	Baseline   int         `json:"baseline"` // the row this one is compared with; -1: none
	Verdict    string      `json:"verdict,omitempty"`
	Err        string      `json:"error,omitempty"`
}

// relayLimits are the limits of the relay's configuration that bound an
// attack, as `xftpd config check` prints them.
type relayLimits struct {
	MemoryLimit string `yaml:"memory_limit"`
	Limits      struct {
		ConnsPerSource int `yaml:"conns_per_source"`
		ConnsTotal     int `yaml:"conns_total"`
	} `yaml:"limits"`
	MaxStreams int   `yaml:"max_streams"`
	memBytes   int64 // MemoryLimit; 0: none
}

type attackReport struct {
	Machine machine       `json:"machine"`
	Config  *attackConfig `json:"config"`
	Relay   relayLimits   `json:"relay"`
	Rows    []attackRow   `json:"rows"`
}

// pingsPerRound: a round is this many pings, an upload, its download and
// a delete.
const pingsPerRound = 4

// goodOpTimeout bounds each operation of the well-behaved client.
const goodOpTimeout = 30 * time.Second

func attackCommand() *cobra.Command {
	var (
		cfg                    attackConfig
		kinds, sources, sizeSt string
	)
	cmd := &cobra.Command{
		Use:   "attack",
		Short: "A well-behaved client's p50/p99 and the relay's memory under attacks from 1 and 200 sources",
		Long: `attack starts one xftpd in its default configuration (TLS, disk store,
embedded records, default limits) on 127.0.0.1 and an attacker process. For
each attack kind it measures a baseline (no attack), then the attack from
each --sources count (127.0.0.2 and up as local addresses: loopback only).
Meanwhile a well-behaved client on 127.0.0.1 (api/httpclient, one HTTP/2
connection) loops: 4 x GET /v1/ping, a one-request create and upload of
--size, its download, a delete. For each phase it prints the client's p50
and p99 per operation, p99 as a ratio to the baseline measured just
before, the relay's peak RSS (VmHWM from the attack's start), CPU and
sockets, and the connections the attacker held.

Attackers that are refused or cut dial again (backoff 0.25 s doubling to 4 s).
The goal (issue 20): p99 within --goal x the baseline and peak RSS within
memory_limit. It reports; it fails only when the run itself breaks.`,
		Args:          cobra.NoArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if cfg.Kinds, err = parseKinds(kinds); err != nil {
				return fmt.Errorf("--kinds: %w", err)
			}
			if cfg.Sources, err = parseInts(sources); err != nil {
				return fmt.Errorf("--sources: %w", err)
			}
			for _, n := range cfg.Sources {
				if n > maxAttackSources {
					return fmt.Errorf("--sources: %d is over %d", n, maxAttackSources)
				}
			}
			size, err := humanize.ParseBytes(sizeSt)
			if err != nil || size == 0 {
				return fmt.Errorf("--size: %q is not a size", sizeSt)
			}
			cfg.Size = int64(size)
			switch {
			case cfg.Conns < 1 || cfg.H2Conns < 1 || cfg.Streams < 1:
				return errors.New("--conns, --h2-conns and --streams must be positive")
			case cfg.Duration <= 0 || cfg.Ramp <= 0 || cfg.Settle <= 0:
				return errors.New("--duration, --ramp and --settle must be positive")
			}
			_, err = runAttackBench(cmd.Context(), &cfg, cmd.OutOrStdout(), cmd.ErrOrStderr())
			return err
		},
	}
	var names []string
	for _, k := range attackKinds() {
		names = append(names, k.name)
	}
	fl := cmd.Flags()
	fl.DurationVar(&cfg.Duration, "duration", 5*time.Second, "measured time per phase")
	fl.DurationVar(&cfg.Ramp, "ramp", 20*time.Second, "at most this long to open an attack's connections before measuring")
	fl.DurationVar(&cfg.Settle, "settle", 30*time.Second, "at most this long to wait for the relay to close an attack's connections")
	fl.StringVar(&kinds, "kinds", strings.Join(names, ","), "attacks")
	fl.StringVar(&sources, "sources", "1,200", "attacking source counts (127.0.0.2 and up)")
	fl.IntVar(&cfg.Conns, "conns", 3000, "connections per attack (zero-window: --h2-conns); at least one per source")
	fl.IntVar(&cfg.H2Conns, "h2-conns", 64, "zero-window connections")
	fl.IntVar(&cfg.Streams, "streams", 128, "zero-window streams per connection")
	fl.StringVar(&sizeSt, "size", "1MiB", "the well-behaved client's chunk size")
	fl.IntVar(&cfg.MaxRounds, "max-rounds", 100000, "at most this many rounds per phase")
	fl.Float64Var(&cfg.Goal, "goal", 2, "the p99 ratio an attack may cause")
	fl.StringVar(&cfg.JSON, "json", "", "also write the results as JSON to this file")
	fl.StringVar(&cfg.XftpdBin, "xftpd", "", "xftpd binary (default: go build ./cmd/xftpd)")
	fl.BoolVar(&cfg.Keep, "keep", false, "keep the scratch directory (logs, data)")
	return cmd
}

func parseKinds(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if _, ok := findKind(f); !ok {
			return nil, fmt.Errorf("no attack %q", f)
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no attack")
	}
	return out, nil
}

// attackBench is one run: the relay, the attacker, the client's payload.
type attackBench struct {
	cfg      *attackConfig
	srv      *child
	addr     api.Address
	attacker *child
	p        payload
	idleFDs  int
}

func runAttackBench(ctx context.Context, cfg *attackConfig, out, logw io.Writer) (*attackReport, error) {
	started := time.Now()
	rep := &attackReport{Config: cfg, Machine: thisMachine(started)}
	dir, cleanup, err := scratchDir("xftp-bench-attack-", cfg.Keep, logw)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	xftpd, err := buildXftpd(ctx, cfg.XftpdBin, dir, logw)
	if err != nil {
		return nil, err
	}
	b := &attackBench{cfg: cfg, p: newPayload(cfg.Size)}
	data := filepath.Join(dir, "relay-data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, err
	}
	// The default configuration: only where its data lives and a free
	// port on 127.0.0.1 are set.
	flags := []string{"--data", data, "--listen", "127.0.0.1:0"}
	if rep.Relay, err = readRelayLimits(ctx, xftpd, flags); err != nil {
		return nil, err
	}
	srvCmd := exec.Command(xftpd, flags...)
	srvCmd.Env = childEnv()
	var line string
	if b.srv, line, err = startChild("xftpd", dir, srvCmd, true); err != nil {
		return nil, err
	}
	defer b.srv.stop()
	if b.addr, err = api.ParseAddress(line); err != nil {
		return nil, fmt.Errorf("xftpd printed %q, not an address: %w", line, err)
	}
	if !strings.HasPrefix(b.addr.Host, "127.0.0.1:") {
		return nil, fmt.Errorf("xftpd listens on %s, not on 127.0.0.1", b.addr.Host)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	atkCmd := exec.Command(self)
	atkCmd.Env = append(os.Environ(), roleEnv+"=attacker")
	if b.attacker, _, err = startChild("attacker", dir, atkCmd, true); err != nil {
		return nil, err
	}
	defer b.attacker.stop()
	if b.idleFDs, err = countFDs(b.srv.pid()); err != nil {
		return nil, fmt.Errorf("reading the relay's file descriptors: %w", err)
	}

	baseline := -1
	runPhase := func(kind string, sources int) {
		if kind == "none" {
			fmt.Fprintln(logw, "# baseline (no attack)")
		} else {
			fmt.Fprintf(logw, "# %s from %d source(s)\n", kind, sources)
		}
		r := b.phase(ctx, kind, sources)
		r.Baseline = -1
		if kind == "none" {
			baseline = len(rep.Rows)
		} else if baseline >= 0 {
			r.Baseline = baseline
			judge(&r, rep.Rows[baseline], cfg.Goal, rep.Relay.memBytes)
		}
		rep.Rows = append(rep.Rows, r)
	}
	// Each attack is compared with a baseline measured just before it:
	// on a shared machine the unloaded latency drifts during a run.
	var attacks []string
	for _, k := range attackKinds() {
		if k.name != "none" && slices.Contains(cfg.Kinds, k.name) {
			attacks = append(attacks, k.name)
		}
	}
	if len(attacks) == 0 {
		runPhase("none", 0)
	}
	for _, k := range attacks {
		if ctx.Err() != nil {
			break
		}
		runPhase("none", 0)
		for _, n := range cfg.Sources {
			runPhase(k, n)
		}
	}
	rep.Machine.LoadEnd = loadAvg()
	rep.Machine.Took = time.Since(started).Round(time.Second).String()
	printAttackReport(out, rep)
	var runErr error
	if ctx.Err() != nil {
		runErr = fmt.Errorf("interrupted: %w", ctx.Err())
	}
	for _, r := range rep.Rows {
		if r.Err != "" && runErr == nil {
			runErr = fmt.Errorf("%s from %d source(s): %s", r.Kind, r.Sources, r.Err)
		}
	}
	if cfg.JSON != "" {
		js, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(cfg.JSON, append(js, '\n'), 0o644); err != nil && runErr == nil {
			runErr = err
		}
	}
	if runErr != nil {
		runErr = fmt.Errorf("%w (relay log: %s)", runErr, b.srv.tail())
	}
	return rep, runErr
}

// readRelayLimits asks xftpd what its configuration is.
func readRelayLimits(ctx context.Context, bin string, flags []string) (relayLimits, error) {
	var l relayLimits
	cmd := exec.CommandContext(ctx, bin, append(slices.Clone(flags), "config", "check")...)
	cmd.Env = childEnv()
	outb, err := cmd.Output()
	if err != nil {
		return l, fmt.Errorf("xftpd config check: %w", err)
	}
	if err := yaml.Unmarshal(outb, &l); err != nil {
		return l, fmt.Errorf("xftpd config check: %w", err)
	}
	if l.MemoryLimit != "" && l.MemoryLimit != "0" {
		m, err := humanize.ParseBytes(l.MemoryLimit)
		if err != nil {
			return l, fmt.Errorf("xftpd config check: memory_limit %q: %w", l.MemoryLimit, err)
		}
		l.memBytes = int64(m)
	}
	return l, nil
}

// ask sends one order to the attacker and reads its answer.
func (b *attackBench) ask(ctx context.Context, o attackOrder) (attackStats, error) {
	line, _ := json.Marshal(o)
	ans, err := b.attacker.command(ctx, string(line))
	if err != nil {
		return attackStats{}, fmt.Errorf("attacker: %w", err)
	}
	var st attackStats
	if err := json.Unmarshal([]byte(ans), &st); err != nil {
		return st, fmt.Errorf("attacker answered %q: %w", ans, err)
	}
	if st.Err != "" {
		return st, fmt.Errorf("attacker: %s", st.Err)
	}
	return st, nil
}

// phase runs one attack (or none) and measures the client meanwhile.
func (b *attackBench) phase(ctx context.Context, kind string, sources int) attackRow {
	r := attackRow{Kind: kind}
	if kind != "none" {
		r.Sources, r.Conns = sources, b.cfg.attackConns(kind, sources)
	}
	pid := b.srv.pid()
	r.Unsettled = b.settle(ctx)
	resetPeakRSS(pid)
	samp := startSampler(pid)
	attacking := false
	if kind != "none" {
		st, err := b.ask(ctx, attackOrder{Cmd: "start", Kind: kind, Addr: b.addr.Host, Sources: sources, Conns: r.Conns,
			Streams: b.cfg.Streams, Ramp: b.cfg.Ramp, Max: b.cfg.Ramp + b.cfg.Duration + time.Minute})
		if err != nil {
			samp.stop()
			r.Err = err.Error()
			return r
		}
		r.Attack, attacking = st, true
	}
	r.ServerFDs, _ = countFDs(pid)
	cpu0, _ := procCPU(pid)
	t0 := time.Now()
	g := b.measureGood(ctx)
	elapsed := time.Since(t0)
	cpu1, _ := procCPU(pid)
	if attacking {
		if st, err := b.ask(ctx, attackOrder{Cmd: "stats"}); err == nil {
			r.AttackEnd = st
		}
		if _, err := b.ask(ctx, attackOrder{Cmd: "stop"}); err != nil {
			r.Err = err.Error()
		}
	}
	r.MaxFDs, r.TCPMemMiB = samp.stop()
	if peak, err := procPeakRSS(pid); err == nil {
		r.PeakRSSMiB = mib(peak)
	}
	r.CPUPercent = 100 * (cpu1 - cpu0).Seconds() / elapsed.Seconds()
	r.Ping, r.Upload, r.Download = g.ping, g.upload, g.download
	r.Rounds, r.Errors, r.FirstError = g.rounds, g.errors, g.firstErr
	if g.rounds == 0 && r.Err == "" {
		r.Err = "the client finished no round: " + g.firstErr
	}
	return r
}

// settle waits until the relay holds no more sockets than when it was
// idle (plus a few), for at most cfg.Settle; it says what is left if not.
func (b *attackBench) settle(ctx context.Context) string {
	deadline := time.Now().Add(b.cfg.Settle)
	for {
		n, err := countFDs(b.srv.pid())
		if err != nil {
			return err.Error()
		}
		if n <= b.idleFDs+8 {
			return ""
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Sprintf("the relay still held %d file descriptors (%d when idle) after %s", n, b.idleFDs, b.cfg.Settle)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// goodResult is what the well-behaved client measured.
type goodResult struct {
	ping, upload, download opStats
	rounds, errors         int
	firstErr               string
}

// measureGood runs the well-behaved client for cfg.Duration: a fresh
// client (one new connection) per phase, one unmeasured ping first.
func (b *attackBench) measureGood(ctx context.Context) goodResult {
	var g goodResult
	c := httpclient.NewClient(b.addr, httpclient.ClientOptions{})
	defer c.Close()
	fail := func(what string, err error) {
		g.errors++
		if g.firstErr == "" {
			g.firstErr = what + ": " + err.Error()
		}
	}
	timed := func(lats *[]time.Duration, what string, f func(context.Context) error) bool {
		octx, cancel := context.WithTimeout(ctx, goodOpTimeout)
		defer cancel()
		t := time.Now()
		if err := f(octx); err != nil {
			fail(what, err)
			return false
		}
		*lats = append(*lats, time.Since(t))
		return true
	}
	var warm []time.Duration
	timed(&warm, "ping", func(ctx context.Context) error { _, err := c.Ping(ctx); return err })
	size := int64(len(b.p.data))
	buf := make([]byte, copyBufSize)
	var pings, ups, downs []time.Duration
	end := time.Now().Add(b.cfg.Duration)
	for round := 0; round < b.cfg.MaxRounds && time.Now().Before(end) && ctx.Err() == nil; round++ {
		ok := true
		for range pingsPerRound {
			ok = timed(&pings, "ping", func(ctx context.Context) error { _, err := c.Ping(ctx); return err }) && ok
		}
		_, sk, _ := ed25519.GenerateKey(rand.Reader)
		rpub, rkey, _ := ed25519.GenerateKey(rand.Reader)
		var cr *httpclient.Created
		if timed(&ups, "upload", func(ctx context.Context) error {
			var err error
			cr, err = c.CreateUploaded(ctx, sk, size, b.p.digest, []ed25519.PublicKey{rpub}, bytes.NewReader(b.p.data))
			return err
		}) {
			ok = timed(&downs, "download", func(ctx context.Context) error {
				rc, err := c.Download(ctx, cr.RecipientIDs[0], rkey, size)
				if err != nil {
					return err
				}
				defer rc.Close()
				n, err := drain(rc, buf)
				if err == nil && n != size {
					err = fmt.Errorf("%d bytes, want %d", n, size)
				}
				return err
			}) && ok
			dctx, cancel := context.WithTimeout(ctx, goodOpTimeout)
			if err := c.Delete(dctx, cr.SenderID, sk); err != nil {
				fail("delete", err)
				ok = false
			}
			cancel()
		} else {
			ok = false
		}
		if ok {
			g.rounds++
		} else {
			time.Sleep(50 * time.Millisecond) // a failing relay is not hammered
		}
	}
	g.ping, g.upload, g.download = latStats(pings), latStats(ups), latStats(downs)
	return g
}

func latStats(l []time.Duration) opStats {
	slices.Sort(l)
	return opStats{N: len(l), P50ms: ms(percentile(l, 0.50)), P99ms: ms(percentile(l, 0.99))}
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// judge relates an attack row to its baseline and says whether it met
// the goal: p99 within goal x the baseline's for every operation, no
// failed operation, peak RSS within the memory limit.
func judge(r *attackRow, base attackRow, goal float64, memLimit int64) {
	if r.Err != "" || base.Err != "" {
		return
	}
	var missed []string
	for _, op := range []struct {
		name string
		cur  *opStats
		base opStats
	}{{"ping", &r.Ping, base.Ping}, {"upload", &r.Upload, base.Upload}, {"download", &r.Download, base.Download}} {
		if op.base.P99ms <= 0 || op.cur.N == 0 {
			missed = append(missed, op.name+" not measured")
			continue
		}
		op.cur.Ratio = op.cur.P99ms / op.base.P99ms
		if op.cur.Ratio > goal {
			missed = append(missed, fmt.Sprintf("%s p99 %.1fx", op.name, op.cur.Ratio))
		}
	}
	if r.Errors > 0 {
		missed = append(missed, fmt.Sprintf("%d failed", r.Errors))
	}
	if memLimit > 0 && r.PeakRSSMiB > mib(memLimit) {
		missed = append(missed, fmt.Sprintf("RSS %.0f MiB over memory_limit", r.PeakRSSMiB))
	}
	r.Verdict = "ok"
	if len(missed) > 0 {
		r.Verdict = "MISSED: " + strings.Join(missed, ", ")
	}
}

// sampler watches the relay's sockets and the host's TCP memory during a
// phase and keeps their largest values.
type sampler struct {
	stopc  chan struct{}
	wg     sync.WaitGroup
	fds    int
	tcpMem float64
}

func startSampler(pid int) *sampler {
	s := &sampler{stopc: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			if n, err := countFDs(pid); err == nil {
				s.fds = max(s.fds, n)
			}
			s.tcpMem = max(s.tcpMem, hostTCPMemMiB())
			select {
			case <-s.stopc:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *sampler) stop() (maxFDs int, tcpMemMiB float64) {
	close(s.stopc)
	s.wg.Wait()
	return s.fds, s.tcpMem
}

func countFDs(pid int) (int, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(fds), err
}

// hostTCPMemMiB is the memory the host's TCP sockets hold in buffers
// (/proc/net/sockstat, "TCP: ... mem PAGES"); 0 if unknown.
func hostTCPMemMiB() float64 {
	b, err := os.ReadFile("/proc/net/sockstat")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || f[0] != "TCP:" {
			continue
		}
		for i := 1; i+1 < len(f); i++ {
			if f[i] == "mem" {
				pages, err := strconv.ParseInt(f[i+1], 10, 64)
				if err != nil {
					return 0
				}
				return mib(pages * int64(os.Getpagesize()))
			}
		}
	}
	return 0
}

func printAttackReport(w io.Writer, rep *attackReport) {
	m, c, l := rep.Machine, rep.Config, rep.Relay
	fmt.Fprintf(w, "xftp-bench attack  %s  took %s\n", m.Started, m.Took)
	fmt.Fprintf(w, "machine: %d CPUs (GOMAXPROCS %d), %s, kernel %s, %s; load average %s at start, %s at end\n",
		m.NumCPU, m.GOMAXPROCS, m.CPU, m.Kernel, m.Go, m.LoadStart, m.LoadEnd)
	total := "derived from memory_limit"
	if l.Limits.ConnsTotal > 0 {
		total = strconv.Itoa(l.Limits.ConnsTotal)
	}
	fmt.Fprintf(w, "relay: xftpd, default configuration on 127.0.0.1 (TLS, disk store, embedded records): memory_limit %s, conns_per_source %d, conns_total %s, max_streams %d\n",
		l.MemoryLimit, l.Limits.ConnsPerSource, total, l.MaxStreams)
	fmt.Fprintf(w, "client: 127.0.0.1, one HTTP/2 connection; a round = %d x GET /v1/ping, create+upload %s, its download, a delete; %s per phase\n",
		pingsPerRound, humanize.IBytes(uint64(c.Size)), c.Duration)
	fmt.Fprintf(w, "attacker: its own process, sources 127.0.0.2 and up; at most %s to open its connections, measured after\n", c.Ramp)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "attack\tsrc\tconns\theld\trefused\trelay fds\tping p50/p99 ms\tx\tupload p50/p99 ms\tx\tdownload p50/p99 ms\tx\trounds\tfailed\tCPU%\tpeak RSS MiB\tTCP mem MiB\t verdict")
	for _, r := range rep.Rows {
		src, conns, held, cut := "-", "-", "-", "-"
		if r.Kind != "none" {
			src, conns = strconv.Itoa(r.Sources), strconv.Itoa(r.Conns)
			held = fmt.Sprintf("%d-%d", r.Attack.Held, r.AttackEnd.Held)
			cut = strconv.FormatInt(r.AttackEnd.Failed+r.AttackEnd.Cut, 10)
		}
		if r.Err != "" {
			fmt.Fprintf(tw, "%s\t%s\t%s\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t error: %s\n", r.Kind, src, conns, oneLine(r.Err))
			continue
		}
		op := func(s opStats) (string, string) {
			ratio := "-"
			if s.Ratio > 0 {
				ratio = fmt.Sprintf("%.2f", s.Ratio)
			}
			return fmt.Sprintf("%.1f/%.1f", s.P50ms, s.P99ms), ratio
		}
		pp, px := op(r.Ping)
		up, ux := op(r.Upload)
		dp, dx := op(r.Download)
		note := r.Verdict
		if r.Unsettled != "" {
			note += " (" + r.Unsettled + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d-%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%.0f\t%.0f\t%.0f\t %s\n",
			r.Kind, src, conns, held, cut, r.ServerFDs, r.MaxFDs, pp, px, up, ux, dp, dx, r.Rounds, r.Errors, r.CPUPercent, r.PeakRSSMiB, r.TCPMemMiB, note)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nx: p99 / the p99 of the baseline (none) measured just before; goal <= %.1f and peak RSS <= memory_limit\n", c.Goal)
	fmt.Fprintln(w, "held: attacker connections open when the measurement started-ended; refused: dials refused and connections cut by the relay;")
	fmt.Fprintln(w, "relay fds: the relay's open file descriptors at the start-largest; CPU%: relay, of one core; peak RSS: relay VmHWM from the attack's start;")
	fmt.Fprintln(w, "TCP mem: the host's TCP buffers (all processes), largest sample")
	for _, r := range rep.Rows {
		if r.FirstError != "" {
			fmt.Fprintf(w, "first failure, %s from %d source(s): %s\n", r.Kind, r.Sources, oneLine(r.FirstError))
		}
	}
	for _, k := range attackKinds() {
		if slices.Contains(c.Kinds, k.name) {
			fmt.Fprintf(w, "%-12s %s\n", k.name+":", k.what)
		}
	}
}
