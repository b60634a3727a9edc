package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/api/httpserver"
	"github.com/xftp/xftp/api/xftp"
	"github.com/xftp/xftp/api/xftpserver"
	"github.com/xftp/xftp/identity"
	"github.com/xftp/xftp/server"
	"github.com/xftp/xftp/storage/disk"
	"github.com/xftp/xftp/storage/embedded"
)

// runRelay is xftpd's wiring (disk store, embedded records, the same
// handler and listener) in a process that profiles itself on command:
// stdin "start FILE" starts a CPU profile ("start FILE trace": and an
// execution trace to FILE.trace), "stop" ends it and writes the
// allocation profile to FILE.allocs. Each command is answered on stdout.
func runRelay() error {
	dir := os.Getenv(dirEnv)
	id, _, err := identity.LoadOrCreate(filepath.Join(dir, "identity.pem"))
	if err != nil {
		return err
	}
	store, err := disk.Open(filepath.Join(dir, "chunks"))
	if err != nil {
		return err
	}
	records, err := embedded.Open(filepath.Join(dir, "records.db"), 2*time.Second)
	if err != nil {
		return err
	}
	defer records.Close()
	sc := server.DefaultConfig()
	sc.Expiry = time.Hour
	svc, err := server.New(sc, server.Options{Identity: id, Store: store, Records: records})
	if err != nil {
		return err
	}
	srv, err := httpserver.NewHTTPServer(httpserver.NewHandler(svc, httpserver.HandlerOptions{}).Routes(), id, httpserver.ServerOptions{MaxConcurrentStreams: 128})
	if err != nil {
		return err
	}
	// And SimpleX's XFTP on the same listener, as xftpd serves it.
	creds, _, err := xftpserver.LoadCredentials(id, filepath.Join(dir, "xftp-ca.crt"), time.Now(), 24*time.Hour)
	if err != nil {
		return err
	}
	xftpserver.New(svc, creds, xftpserver.Options{}).Configure(srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer srv.Close()
	go srv.ServeTLS(ln, "", "")
	fmt.Println(api.Address{Fingerprint: id.Fingerprint(), Host: ln.Addr().String()}.String())
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	fmt.Println(xftp.Address{KeyHash: creds.KeyHash, Hosts: []string{"127.0.0.1"}, Port: port}.String())
	var (
		path, withTrace string
		ms0             runtime.MemStats
	)
	sc2 := bufio.NewScanner(os.Stdin)
	for sc2.Scan() {
		cmd, arg, _ := strings.Cut(sc2.Text(), " ")
		switch cmd {
		case "start":
			path, withTrace, _ = strings.Cut(arg, " ")
			f, err := os.Create(path)
			if err == nil {
				err = pprof.StartCPUProfile(f)
			}
			if err == nil && withTrace == "trace" {
				if tf, terr := os.Create(path + ".trace"); terr != nil {
					err = terr
				} else {
					err = trace.Start(tf)
				}
			}
			if err != nil {
				fmt.Println("error", err)
				continue
			}
			runtime.ReadMemStats(&ms0)
			fmt.Println("ok")
		case "stop":
			pprof.StopCPUProfile()
			if withTrace == "trace" {
				trace.Stop()
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			f, err := os.Create(path + ".allocs")
			if err == nil {
				err = pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
			if err != nil {
				fmt.Println("error", err)
				continue
			}
			fmt.Printf("ok alloc=%d mallocs=%d gc=%d\n", ms.TotalAlloc-ms0.TotalAlloc, ms.Mallocs-ms0.Mallocs, ms.NumGC-ms0.NumGC)
		default:
			fmt.Println("error unknown command")
		}
	}
	return nil
}

func profileCommand() *cobra.Command {
	var (
		ops, sizeStr, out string
		conc              int
		dur               time.Duration
		top               int
		withTrace         bool
	)
	cmd := &cobra.Command{
		Use:   "profile",
		Short: "CPU- and allocation-profile xftpd's service under one load cell",
		Long: `profile runs xftpd's wiring (disk store, embedded records, the same handler
and listener, the XFTP binding on it) in a child process that profiles only itself, loads it like
one xftpd-disk cell, and writes OUT/<op>.cpu.pprof and OUT/<op>.cpu.pprof.allocs
(allocations since the process started), and OUT/<op>.cpu.pprof.client
(the load generator's own CPU). Read them with go tool pprof. With
--trace, also OUT/<op>.cpu.pprof.trace, an execution trace of the service:
where its requests wait rather than compute (go tool trace
-pprof=sync|syscall|sched FILE gives blocking profiles; a service that
waits more than it runs is not made faster by CPU savings).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			size, err := humanize.ParseBytes(sizeStr)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			for _, op := range strings.Split(ops, ",") {
				if err := profileOne(cmd.Context(), op, int64(size), conc, dur, out, top, withTrace); err != nil {
					return err
				}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&ops, "op", "upload,download", "comma-separated: upload (one request per chunk), upload2 (create, then upload), download; xftp-upload (FNEW, then FPUT), xftp-download (FGET) through the XFTP binding")
	fl.StringVar(&sizeStr, "size", "4MiB", "chunk size")
	fl.IntVar(&conc, "conc", 8, "concurrent clients")
	fl.DurationVar(&dur, "duration", 10*time.Second, "profiled time")
	fl.StringVar(&out, "out", "xftp-bench-profiles", "directory for the profiles")
	fl.IntVar(&top, "top", 25, "print this many top entries (go tool pprof -top); 0: none")
	fl.BoolVar(&withTrace, "trace", false, "also write an execution trace of the service (OUT/<op>.cpu.pprof.trace)")
	return cmd
}

func profileOne(ctx context.Context, op string, size int64, conc int, dur time.Duration, out string, top int, withTrace bool) error {
	dir, err := os.MkdirTemp("", "xftp-bench-profile-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), roleEnv+"=relay", dirEnv+"="+dir)
	relay, line, err := startChild("relay", dir, cmd, true)
	if err != nil {
		return err
	}
	defer relay.stop()
	addr, err := api.ParseAddress(line)
	if err != nil {
		return err
	}
	xaddr, err := xftpAddressOf(relay)
	if err != nil {
		return err
	}
	p := newPayload(size)
	clients := xftpdClients(addr, conc, false)
	defer closeClients(clients)
	var ops []opFunc
	switch op {
	case "upload", "upload2":
		ops = xftpdUploadOps(clients, p.data, p.digest, op == "upload2")
	case "download":
		refs, err := precreate(ctx, addr, p.data, p.digest, min(conc, 16))
		if err != nil {
			return err
		}
		ops = xftpdDownloadOps(clients, refs, size)
	case "xftp-upload", "xftp-download":
		xc, err := xftpDialAll(ctx, xaddr, conc, false)
		if err != nil {
			return err
		}
		defer xftpCloseAll(xc)
		if op == "xftp-upload" {
			ops = xftpUploadOps(xc, p)
			break
		}
		refs, err := xftpPrecreate(ctx, xaddr, p, min(conc, 16))
		if err != nil {
			return err
		}
		ops = xftpDownloadOps(xc, refs, size)
	default:
		return fmt.Errorf("--op: %q is not upload, upload2, download, xftp-upload or xftp-download", op)
	}
	if _, err := runLoad(ctx, loadSpec{Warmup: time.Second, Duration: time.Millisecond}, 0, ops); err != nil {
		return err
	}
	prof, _ := filepath.Abs(filepath.Join(out, op+".cpu.pprof"))
	start := "start " + prof
	if withTrace {
		start += " trace"
	}
	if a, err := relay.command(ctx, start); err != nil || a != "ok" {
		return fmt.Errorf("starting the profile: %v %s", err, a)
	}
	// The load generator profiles itself too: on two shared cores its CPU
	// is throughput the server cannot have.
	cf, err := os.Create(prof + ".client")
	if err != nil {
		return err
	}
	defer cf.Close()
	if err := pprof.StartCPUProfile(cf); err != nil {
		return err
	}
	r, err := runLoad(ctx, loadSpec{Duration: dur}, relay.pid(), ops)
	pprof.StopCPUProfile()
	if err != nil {
		return err
	}
	ans, err := relay.command(ctx, "stop")
	if err != nil || !strings.HasPrefix(ans, "ok") {
		return fmt.Errorf("stopping the profile: %v %s", err, ans)
	}
	rw := newRow("relay", op, size, conc, r, nil)
	fmt.Printf("# %s %s x%d: %.0f MB/s, %.0f ops/s, server CPU %.2f s/GB, peak RSS %.0f MiB; %s per op: %s\n",
		op, humanize.IBytes(uint64(size)), conc, rw.MBps, rw.OpsPerSec, rw.CPUPerGB, rw.PeakRSSMiB, ans[3:], perOp(ans, r.Ops))
	fmt.Printf("# profiles: %s, %s.allocs and %s.client (the load generator)\n", prof, prof, prof)
	if top > 0 {
		for _, args := range [][]string{{"-top"}, {"-top", "-cum"}, {"-top", "-sample_index=alloc_space"}} {
			file := prof
			if strings.Contains(args[len(args)-1], "alloc") {
				file = prof + ".allocs"
			}
			pc := exec.Command("go", append(append([]string{"tool", "pprof"}, args...), "-nodecount", fmt.Sprint(top), file)...)
			pc.Stdout, pc.Stderr = os.Stdout, os.Stderr
			fmt.Printf("\n# go tool pprof %s %s\n", strings.Join(args, " "), file)
			pc.Run()
		}
	}
	return nil
}

// perOp turns "ok alloc=N mallocs=M gc=G" into allocated bytes and objects
// per operation.
func perOp(ans string, ops int64) string {
	var alloc, mallocs, gc int64
	fmt.Sscanf(ans, "ok alloc=%d mallocs=%d gc=%d", &alloc, &mallocs, &gc)
	if ops == 0 {
		return "-"
	}
	return fmt.Sprintf("%s and %d objects allocated", humanize.IBytes(uint64(alloc/ops)), mallocs/ops)
}
