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
	Duration   time.Duration `json:"duration_ns"`
	Ramp       time.Duration `json:"ramp_ns"`
	Repeat     int           `json:"repeat"`
	Kinds      []string      `json:"kinds"`
	Sources    []int         `json:"sources"`
	Conns      int           `json:"conns"`
	H2Conns    int           `json:"h2_conns"`
	FloodConns int           `json:"flood_conns"`
	Streams    int           `json:"streams"`
	Size       int64         `json:"size"`
	MaxRounds  int           `json:"max_rounds"`
	Goal       float64       `json:"goal"`
	Nice       int           `json:"attacker_nice"`
	JSON       string        `json:"-"`
	XftpdBin   string        `json:"-"`
	Keep       bool          `json:"-"`
}

// attackConns is how many connections an attack of kind holds from
// sources sources: at least one per source.
func (c *attackConfig) attackConns(kind string, sources int) int {
	n := c.Conns
	switch {
	case kind == "zero-window":
		n = c.H2Conns
	case strings.HasPrefix(kind, "h2-"):
		n = c.FloodConns
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

// attackRow is one phase (or, with --repeat, several pooled): an attack
// (or none) and what the well-behaved client and the relay went through
// meanwhile.
type attackRow struct {
	Kind       string      `json:"kind"`
	Sources    int         `json:"sources,omitempty"`
	Conns      int         `json:"conns,omitempty"`
	Attack     attackStats `json:"attack"`     // when the measurement started
	AttackEnd  attackStats `json:"attack_end"` // when it ended
	ServerFDs  int         `json:"server_fds"` // when the measurement started (largest repetition)
	MaxFDs     int         `json:"server_fds_max"`
	Ping       opStats     `json:"ping"`
	Upload     opStats     `json:"upload"`
	Download   opStats     `json:"download"`
	Rounds     int         `json:"rounds"`
	Errors     int         `json:"errors"`
	FirstError string      `json:"first_error,omitempty"`
	CPUPercent float64     `json:"server_cpu_percent"` // over the measurement, of one core
	// AttackerCPUPercent is the attacker process's, on the same cores.
	AttackerCPUPercent float64 `json:"attacker_cpu_percent"`
	PeakRSSMiB         float64 `json:"peak_rss_mib"`     // VmHWM of a relay started for the phase
	TCPMemMiB          float64 `json:"host_tcp_mem_mib"` // the host's TCP buffers, largest sample
	Repeats            int     `json:"repeats"`          // phases pooled into this row
	Baseline           int     `json:"baseline"`         // the row this one is compared with; -1: none
	Verdict            string  `json:"verdict,omitempty"`
	Err                string  `json:"error,omitempty"`
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

// goodOpTimeout bounds each operation of the well-behaved client, and
// goodOpGrace how long past the phase's end one may still run.
const (
	goodOpTimeout = 30 * time.Second
	goodOpGrace   = 2 * time.Second
)

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
			case cfg.Conns < 1 || cfg.H2Conns < 1 || cfg.Streams < 1 || cfg.FloodConns < 1:
				return errors.New("--conns, --h2-conns, --streams and --flood-conns must be positive")
			case cfg.Duration <= 0 || cfg.Ramp <= 0 || cfg.Repeat < 1:
				return errors.New("--duration, --ramp and --repeat must be positive")
			}
			_, err = runAttackBench(cmd.Context(), &cfg, cmd.OutOrStdout(), cmd.ErrOrStderr())
			return err
		},
	}
	fl := cmd.Flags()
	fl.DurationVar(&cfg.Duration, "duration", 5*time.Second, "measured time per phase")
	fl.DurationVar(&cfg.Ramp, "ramp", 20*time.Second, "at most this long to open an attack's connections before measuring")
	fl.IntVar(&cfg.Repeat, "repeat", 1, "alternate each baseline and attack this many times, pooling their samples")
	fl.StringVar(&kinds, "kinds", strings.Join(defaultKinds(), ","), "attacks; also h2- and any other flood of internal/h2attack")
	fl.StringVar(&sources, "sources", "1,200", "attacking source counts (127.0.0.2 and up)")
	fl.IntVar(&cfg.Conns, "conns", 3000, "connections per attack (zero-window: --h2-conns); at least one per source")
	fl.IntVar(&cfg.H2Conns, "h2-conns", 64, "zero-window connections")
	fl.IntVar(&cfg.Streams, "streams", 128, "zero-window streams per connection")
	fl.IntVar(&cfg.FloodConns, "flood-conns", 8, "connections per HTTP/2 flood")
	fl.StringVar(&sizeSt, "size", "1MiB", "the well-behaved client's chunk size")
	fl.IntVar(&cfg.MaxRounds, "max-rounds", 100000, "at most this many rounds per phase")
	fl.Float64Var(&cfg.Goal, "goal", 2, "the p99 ratio an attack may cause")
	fl.IntVar(&cfg.Nice, "attacker-nice", 19, "run the attacker under nice -n this (0: not), so that its own CPU use on the same cores weighs less")
	fl.StringVar(&cfg.JSON, "json", "", "also write the results as JSON to this file")
	fl.StringVar(&cfg.XftpdBin, "xftpd", "", "xftpd binary (default: go build ./cmd/xftpd)")
	fl.BoolVar(&cfg.Keep, "keep", false, "keep the scratch directory (logs, data)")
	return cmd
}

// defaultKinds are the attacks a run makes unless told otherwise: all but
// the floods outside defaultFloods.
func defaultKinds() []string {
	var names []string
	for _, k := range attackKinds() {
		if !strings.HasPrefix(k.name, "h2-") {
			names = append(names, k.name)
		}
	}
	for _, f := range defaultFloods() {
		names = append(names, "h2-"+string(f))
	}
	return names
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

// attackBench is one run: the relay's binary and data, the attacker, the
// client's payload.
type attackBench struct {
	cfg      *attackConfig
	dir      string
	xftpd    string
	flags    []string // xftpd's: the default configuration, data and port set
	attacker *child
	p        payload
	relayLog string // the end of the last relay's log
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
	data := filepath.Join(dir, "relay-data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, err
	}
	// The default configuration: only where its data lives and a free
	// port on 127.0.0.1 are set.
	b := &attackBench{cfg: cfg, dir: dir, xftpd: xftpd, flags: []string{"--data", data, "--listen", "127.0.0.1:0"}, p: newPayload(cfg.Size)}
	if rep.Relay, err = readRelayLimits(ctx, xftpd, b.flags); err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	atkCmd := exec.Command(self)
	if nice, err := exec.LookPath("nice"); err == nil && cfg.Nice != 0 {
		atkCmd = exec.Command(nice, "-n", strconv.Itoa(cfg.Nice), self)
	} else if cfg.Nice != 0 {
		cfg.Nice = 0 // said in the report
	}
	atkCmd.Env = append(os.Environ(), roleEnv+"=attacker")
	if b.attacker, _, err = startChild("attacker", dir, atkCmd, true); err != nil {
		return nil, err
	}
	defer b.attacker.stop()

	// Each attack is compared with a baseline measured just before it
	// (on a shared machine the unloaded latency drifts during a run);
	// with --repeat the two alternate, and each row pools its
	// repetitions' samples.
	var attacks []string
	for _, k := range attackKinds() {
		if k.name != "none" && slices.Contains(cfg.Kinds, k.name) {
			attacks = append(attacks, k.name)
		}
	}
	if len(attacks) == 0 {
		attacks = []string{"none"}
	}
	for _, k := range attacks {
		if ctx.Err() != nil {
			break
		}
		base := &pooledRow{}
		rows := make([]*pooledRow, len(cfg.Sources))
		for i := range rows {
			rows[i] = &pooledRow{}
		}
		for range cfg.Repeat {
			fmt.Fprintf(logw, "# baseline (no attack)\n")
			base.add(b.phase(ctx, "none", 0))
			if k == "none" {
				continue
			}
			for i, n := range cfg.Sources {
				fmt.Fprintf(logw, "# %s from %d source(s)\n", k, n)
				rows[i].add(b.phase(ctx, k, n))
			}
		}
		bi := len(rep.Rows)
		rep.Rows = append(rep.Rows, base.finish())
		for _, p := range rows {
			if p.n == 0 {
				continue
			}
			r := p.finish()
			r.Baseline = bi
			judge(&r, rep.Rows[bi], cfg.Goal, rep.Relay.memBytes)
			rep.Rows = append(rep.Rows, r)
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
			runErr = fmt.Errorf("%s from %d source(s): %s (relay log: %s)", r.Kind, r.Sources, r.Err, b.relayLog)
		}
	}
	if err := writeJSONReport(cfg.JSON, rep); err != nil && runErr == nil {
		runErr = err
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

// startRelay starts a fresh xftpd process on the run's data (the same
// identity each time, a new port).
func (b *attackBench) startRelay() (*child, api.Address, error) {
	cmd := exec.Command(b.xftpd, b.flags...)
	cmd.Env = childEnv()
	srv, line, err := startChild("xftpd", b.dir, cmd, true)
	if err != nil {
		return nil, api.Address{}, err
	}
	addr, err := api.ParseAddress(line)
	if err == nil && !strings.HasPrefix(addr.Host, "127.0.0.1:") {
		err = fmt.Errorf("xftpd listens on %s, not on 127.0.0.1", addr.Host)
	}
	if err != nil {
		srv.stop()
		return nil, api.Address{}, fmt.Errorf("xftpd printed %q: %w", line, err)
	}
	return srv, addr, nil
}

// phase runs one attack (or none) against a relay started for it, so
// that its peak RSS is this phase's, and measures the client meanwhile.
func (b *attackBench) phase(ctx context.Context, kind string, sources int) (attackRow, goodLats) {
	r := attackRow{Kind: kind, Baseline: -1}
	if kind != "none" {
		r.Sources, r.Conns = sources, b.cfg.attackConns(kind, sources)
	}
	srv, addr, err := b.startRelay()
	if err != nil {
		r.Err = err.Error()
		return r, goodLats{}
	}
	defer func() {
		srv.stop()
		b.relayLog = srv.tail()
	}()
	pid := srv.pid()
	samp := startSampler(pid)
	attacking := false
	if kind != "none" {
		st, err := b.ask(ctx, attackOrder{Cmd: "start", Kind: kind, Addr: addr.Host, Sources: sources, Conns: r.Conns,
			Streams: b.cfg.Streams, Ramp: b.cfg.Ramp, Max: b.cfg.Ramp + b.cfg.Duration + time.Minute})
		if err != nil {
			samp.stop()
			r.Err = err.Error()
			return r, goodLats{}
		}
		r.Attack, attacking = st, true
	}
	r.ServerFDs, _ = countFDs(pid)
	cpu0, _ := procCPU(pid)
	acpu0, _ := procCPU(b.attacker.pid())
	t0 := time.Now()
	g := b.measureGood(ctx, addr)
	elapsed := time.Since(t0)
	cpu1, _ := procCPU(pid)
	acpu1, _ := procCPU(b.attacker.pid())
	if attacking {
		// Held when the measurement ended; the counts once every
		// connection is closed (floods count their frames then).
		st, err := b.ask(ctx, attackOrder{Cmd: "stats"})
		if err == nil {
			r.AttackEnd, err = b.ask(ctx, attackOrder{Cmd: "stop"})
			r.AttackEnd.Held = st.Held
		}
		if err != nil {
			r.Err = err.Error()
		}
	}
	r.MaxFDs, r.TCPMemMiB = samp.stop()
	if peak, err := procPeakRSS(pid); err == nil {
		r.PeakRSSMiB = mib(peak)
	}
	r.CPUPercent = 100 * (cpu1 - cpu0).Seconds() / elapsed.Seconds()
	r.AttackerCPUPercent = 100 * (acpu1 - acpu0).Seconds() / elapsed.Seconds()
	r.Rounds, r.Errors, r.FirstError = g.rounds, g.errors, g.firstErr
	return r, g
}

// goodLats is what the well-behaved client measured in one phase.
type goodLats struct {
	ping, upload, download []time.Duration
	rounds, errors         int
	firstErr               string
}

// pooledRow gathers the repetitions of one row: their samples pooled,
// the largest memory and sockets, the mean CPU, the last attack's counts.
type pooledRow struct {
	row attackRow
	g   goodLats
	cpu [2]float64
	n   int
}

func (p *pooledRow) add(r attackRow, g goodLats) {
	if p.n == 0 {
		p.row = r
	}
	p.n++
	a := &p.row
	if a.Err == "" {
		a.Err = r.Err
	}
	if a.FirstError == "" {
		a.FirstError = r.FirstError
	}
	a.Attack, a.AttackEnd = r.Attack, r.AttackEnd
	a.ServerFDs, a.MaxFDs = max(a.ServerFDs, r.ServerFDs), max(a.MaxFDs, r.MaxFDs)
	a.PeakRSSMiB, a.TCPMemMiB = max(a.PeakRSSMiB, r.PeakRSSMiB), max(a.TCPMemMiB, r.TCPMemMiB)
	p.cpu[0] += r.CPUPercent
	p.cpu[1] += r.AttackerCPUPercent
	p.g.ping = append(p.g.ping, g.ping...)
	p.g.upload = append(p.g.upload, g.upload...)
	p.g.download = append(p.g.download, g.download...)
	p.g.rounds += g.rounds
	p.g.errors += g.errors
}

func (p *pooledRow) finish() attackRow {
	r := p.row
	r.Repeats = p.n
	r.CPUPercent, r.AttackerCPUPercent = p.cpu[0]/float64(p.n), p.cpu[1]/float64(p.n)
	r.Ping, r.Upload, r.Download = latStats(p.g.ping), latStats(p.g.upload), latStats(p.g.download)
	r.Rounds, r.Errors = p.g.rounds, p.g.errors
	return r
}

// measureGood runs the well-behaved client for cfg.Duration: a fresh
// client (one new connection) per phase, one unmeasured ping first.
func (b *attackBench) measureGood(ctx context.Context, addr api.Address) goodLats {
	var g goodLats
	c := httpclient.NewClient(addr, httpclient.ClientOptions{})
	defer c.Close()
	fail := func(what string, err error) {
		g.errors++
		if g.firstErr == "" {
			g.firstErr = what + ": " + err.Error()
		}
	}
	end := time.Now().Add(b.cfg.Duration)
	// An operation still running this long after the phase's end fails:
	// under an attack that stalls the relay a round would otherwise
	// outlast the attack.
	opDeadline := func() time.Time {
		if d := time.Now().Add(goodOpTimeout); d.Before(end.Add(goodOpGrace)) {
			return d
		}
		return end.Add(goodOpGrace)
	}
	timed := func(lats *[]time.Duration, what string, f func(context.Context) error) bool {
		octx, cancel := context.WithDeadline(ctx, opDeadline())
		defer cancel()
		t := time.Now()
		if err := f(octx); err != nil {
			fail(what, err)
			return false
		}
		*lats = append(*lats, time.Since(t))
		return true
	}
	ping := func(ctx context.Context) error { _, err := c.Ping(ctx); return err }
	var warm []time.Duration
	timed(&warm, "ping", ping)
	size := int64(len(b.p.data))
	buf := make([]byte, copyBufSize)
	for round := 0; round < b.cfg.MaxRounds && time.Now().Before(end) && ctx.Err() == nil; round++ {
		ok := true
		for range pingsPerRound {
			ok = timed(&g.ping, "ping", ping) && ok
		}
		_, sk, _ := ed25519.GenerateKey(rand.Reader)
		rpub, rkey, _ := ed25519.GenerateKey(rand.Reader)
		var cr *httpclient.Created
		if timed(&g.upload, "upload", func(ctx context.Context) error {
			var err error
			cr, err = c.CreateUploaded(ctx, sk, size, b.p.digest, []ed25519.PublicKey{rpub}, bytes.NewReader(b.p.data))
			return err
		}) {
			ok = timed(&g.download, "download", func(ctx context.Context) error {
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
			dctx, cancel := context.WithDeadline(ctx, opDeadline())
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
	if r.Ping.N+r.Upload.N+r.Download.N == 0 {
		r.Verdict = fmt.Sprintf("MISSED: no operation succeeded, %d failed", r.Errors)
		return
	}
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
	fmt.Fprintf(w, "relay: a fresh xftpd per phase, default configuration on 127.0.0.1 (TLS, disk store, embedded records): memory_limit %s, conns_per_source %d, conns_total %s, max_streams %d\n",
		l.MemoryLimit, l.Limits.ConnsPerSource, total, l.MaxStreams)
	fmt.Fprintf(w, "client: 127.0.0.1, one HTTP/2 connection; a round = %d x GET /v1/ping, create+upload %s, its download, a delete; %s per phase, %d phase(s) per row, samples pooled\n",
		pingsPerRound, humanize.IBytes(uint64(c.Size)), c.Duration, c.Repeat)
	nice := "not niced"
	if c.Nice != 0 {
		nice = fmt.Sprintf("under nice -n %d", c.Nice)
	}
	fmt.Fprintf(w, "attacker: its own process (%s) on the same cores, sources 127.0.0.2 and up; at most %s to open its connections, measured after\n", nice, c.Ramp)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "attack\tsrc\tconns\theld\trefused\trelay fds\tping p50/p99 ms\tx\tupload p50/p99 ms\tx\tdownload p50/p99 ms\tx\trounds\tfailed\tCPU%\tatk CPU%\tpeak RSS MiB\tTCP mem MiB\t verdict")
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d-%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%.0f\t%.0f\t%.0f\t%.0f\t %s\n",
			r.Kind, src, conns, held, cut, r.ServerFDs, r.MaxFDs, pp, px, up, ux, dp, dx, r.Rounds, r.Errors, r.CPUPercent, r.AttackerCPUPercent, r.PeakRSSMiB, r.TCPMemMiB, note)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nx: p99 / the p99 of the baseline (none) measured just before; goal <= %.1f and peak RSS <= memory_limit\n", c.Goal)
	fmt.Fprintln(w, "held: attacker connections open when the measurement started-ended; refused: dials refused and connections cut by the relay;")
	fmt.Fprintln(w, "relay fds: the relay's open file descriptors at the start-largest; CPU%: relay, atk CPU%: attacker, of one core; peak RSS: VmHWM of a relay started for the phase;")
	fmt.Fprintln(w, "TCP mem: the host's TCP buffers (all processes), largest sample")
	for _, r := range rep.Rows {
		if a := r.AttackEnd; strings.HasPrefix(r.Kind, "h2-") {
			fmt.Fprintf(w, "%s from %d source(s): %d flood frames sent; %d floods read to the end with the connection kept, %d connections closed by the relay\n",
				r.Kind, r.Sources, a.Frames, a.Completed, a.Cut)
		}
	}
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
