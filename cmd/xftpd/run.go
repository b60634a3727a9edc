package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/api/httpserver"
	"github.com/xftp/xftp/identity"
	"github.com/xftp/xftp/internal/buildinfo"
	"github.com/xftp/xftp/internal/metrics"
	"github.com/xftp/xftp/server"
)

// flagOverrides are the command-line flags; each overrides the config file
// and environment only when given.
type flagOverrides struct {
	config, data, listen, host, quota, passwordFile, logLevel, logFormat, adminListen string
	expiry                                                                            Duration
	noNew, plain                                                                      bool
}

func newCommand() *cobra.Command {
	var f flagOverrides
	cmd := &cobra.Command{
		Use:   "xftpd",
		Short: "xftp relay server",
		Long: `xftpd relays encrypted file chunks between xftp clients.

Configuration comes from defaults, then the --config file (YAML; see
'xftpd config example'), then XFTPD_* environment variables, then flags.`,
		Args:          cobra.NoArgs,
		Version:       buildinfo.Version(),
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := resolve(cmd, f)
			if err != nil {
				return err
			}
			return run(cmd.Context(), cfg, os.Getenv, cmd.OutOrStdout())
		},
	}
	fl := cmd.PersistentFlags()
	fl.StringVar(&f.config, "config", os.Getenv("XFTPD_CONFIG"), "configuration file (env XFTPD_CONFIG)")
	fl.StringVar(&f.data, "data", "", "data directory: identity key, chunk bodies, record database (default xftpd-data)")
	fl.StringVar(&f.listen, "listen", "", "address to listen on; port 0 picks a free port (default 127.0.0.1:5443)")
	fl.StringVar(&f.host, "host", "", "host name clients use, for the printed address (default: the listen host)")
	fl.StringVar(&f.quota, "quota", "", "storage quota over all created chunks, e.g. 10GiB; 0 means none")
	fl.Var(&f.expiry, "expiry", "how long chunks live, e.g. 48h or 7d (default 48h)")
	fl.StringVar(&f.adminListen, "admin-listen", "", "admin API address (default 127.0.0.1:0, a free loopback port written to DATA/admin.address); empty disables it")
	fl.StringVar(&f.passwordFile, "password-file", "", "file holding the upload password (or env XFTPD_PASSWORD); it becomes part of the address")
	fl.BoolVar(&f.noNew, "no-new-chunks", false, "refuse to create new chunks (downloads continue)")
	fl.BoolVar(&f.plain, "plain", false, "serve HTTP/1.1 and h2c without TLS, behind a TLS-terminating reverse proxy (see docs/PROTOCOL.md)")
	fl.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error (default info)")
	fl.StringVar(&f.logFormat, "log-format", "", "text or json (default text)")
	cmd.AddCommand(configCommand(&f), probeCommand(&f))
	return cmd
}

// resolve layers defaults, file, environment and the flags that were given.
func resolve(cmd *cobra.Command, f flagOverrides) (Config, error) {
	cfg, err := loadConfigLookup(f.config, os.LookupEnv)
	if err != nil {
		return cfg, err
	}
	for _, name := range unknownEnv(os.Environ()) {
		fmt.Fprintf(cmd.ErrOrStderr(), "xftpd: warning: %s is not a setting xftpd reads (misspelled? see 'xftpd config example')\n", name)
	}
	fl := cmd.Flags()
	set := func(name string, apply func() error) error {
		if fl.Changed(name) {
			if err := apply(); err != nil {
				return fmt.Errorf("--%s: %w", name, err)
			}
		}
		return nil
	}
	for _, e := range []error{
		set("data", func() error { cfg.Data = f.data; return nil }),
		set("listen", func() error { cfg.Listen = f.listen; return nil }),
		set("host", func() error { cfg.Host = f.host; return nil }),
		set("quota", func() error { return cfg.Quota.set(f.quota) }),
		set("expiry", func() error { cfg.Expiry = f.expiry; return nil }),
		set("admin-listen", func() error { cfg.Admin.Listen = f.adminListen; return nil }),
		set("password-file", func() error { cfg.PasswordFile = f.passwordFile; return nil }),
		set("no-new-chunks", func() error { cfg.NewChunks = !f.noNew; return nil }),
		set("plain", func() error { cfg.TLS = !f.plain; return nil }),
		set("log-level", func() error { cfg.Log.Level = f.logLevel; return nil }),
		set("log-format", func() error { cfg.Log.Format = f.logFormat; return nil }),
	} {
		if e != nil {
			return cfg, e
		}
	}
	return cfg, nil
}

func configCommand(f *flagOverrides) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Check or print configuration"}
	cmd.AddCommand(&cobra.Command{
		Use:   "check",
		Short: "Validate the configuration (file, environment, flags) and print the result",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := resolve(cmd, *f)
			if err != nil {
				return err
			}
			if _, err := cfg.serverConfig(os.Getenv); err != nil {
				return err
			}
			if _, err := newLogger(cfg.Log.Level, cfg.Log.Format); err != nil {
				return err
			}
			out, _ := yaml.Marshal(cfg)
			fmt.Fprintf(cmd.OutOrStdout(), "# configuration is valid\n%s", out)
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "example",
		Short: "Print an example configuration file with every key explained",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := io.WriteString(cmd.OutOrStdout(), exampleConfig)
			return err
		},
	})
	return cmd
}

func newLogger(level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log.level: %q is not debug, info, warn or error", level)
	}
	o := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, o)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, o)), nil
	}
	return nil, fmt.Errorf("log.format: %q is neither text nor json", format)
}

func run(ctx context.Context, cfg Config, env func(string) string, stdout io.Writer) error {
	log, err := newLogger(cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return err
	}
	sc, err := cfg.serverConfig(env)
	if err != nil {
		return err
	}
	if cfg.MemoryLimit > 0 && env("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(int64(cfg.MemoryLimit))
	}
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	id, created, err := identity.LoadOrCreate(cfg.identityPath())
	if err != nil {
		return err
	}
	if created {
		log.Info("created a new server identity", "fingerprint", id.Fingerprint().String())
	}
	b, err := openBackends(ctx, cfg, env, log)
	if err != nil {
		return err
	}
	defer b.close()
	mx, stopMetrics, err := startMetrics(cfg, b, sc.Quota, log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	xcreds, err := loadXFTP(cfg, id, log) // xftp.go
	if err != nil {
		return err
	}
	td, err := openTakedowns(cfg, b, log) // blocklist, audit log, admin API: admin.go
	if err != nil {
		return err
	}
	defer td.close()
	opts := server.Options{Identity: id, Store: b.store, Records: b.records, Nonces: b.nonces, Logger: log}
	var observe func(string, int, time.Duration)
	if mx != nil {
		opts.Store = metrics.InstrumentStore(b.store, mx, cfg.Storage.Backend)
		opts.Records = metrics.InstrumentRecords(b.records, mx, cfg.Records.Backend)
		opts.Metrics = mx
		observe = mx.ObserveRequest
	}
	svc, err := server.New(sc, td.options(opts))
	if err != nil {
		return err
	}
	if xcreds != nil {
		td.xftpKeyHash = &xcreds.KeyHash
	}
	if err := td.serve(svc); err != nil {
		return err
	}
	handler := httpserver.NewHandler(svc, httpserver.HandlerOptions{Logger: log, Observe: observe, Limits: httpserver.Limits{
		CreatesPerMinute: cfg.Limits.CreatesPerMinute, DownloadsPerMinute: cfg.Limits.DownloadsPerMinute,
		ReportsPerMinute: cfg.Limits.ReportsPerMinute, RequestsPerMinute: cfg.Limits.RequestsPerMinute}, Web: cfg.Web.handler()})
	routes := handler.Routes()
	var pm server.Metrics
	if mx != nil {
		pm = mx
	}
	stopProxy, err := mountProxy(cfg.Proxy, routes, id, pm, log) // proxy.go
	if err != nil {
		return err
	}
	defer stopProxy()
	var cooldown *httpserver.Cooldown
	if cfg.TLS {
		// Not behind a reverse proxy, whose one address is every client's.
		cooldown = httpserver.NewCooldown(httpserver.FloodCooldown, nil)
	}
	so := httpserver.ServerOptions{Plain: !cfg.TLS, MaxConcurrentStreams: cfg.MaxStreams, Logger: log, Cooldown: cooldown}
	if mx != nil {
		so.OnFlood = mx.CountHTTP2Flood
	}
	srv, err := httpserver.NewHTTPServer(routes, id, so)
	if err != nil {
		return err
	}
	if err := cfg.Web.apply(srv, log); err != nil { // web.go
		return err
	}
	xb := startXFTP(cfg, svc, xcreds, srv, mx, log) // xftp.go
	rawLn, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w%s", err, inUseHint(err, "--listen"))
	}
	connLimits := httpserver.ConnLimits{PerSource: cfg.Limits.ConnsPerSource, Total: cfg.connsTotal(), Cooldown: cooldown}
	ln := httpserver.LimitConns(rawLn, connLimits)
	addr := api.Address{Fingerprint: id.Fingerprint(), Password: sc.Password, Host: publicHost(cfg.Host, ln.Addr().(*net.TCPAddr)), WebTLS: !cfg.TLS}
	if err := writeAddress(filepath.Join(cfg.Data, "address"), addr.String()); err != nil {
		ln.Close()
		return err
	}
	var xln net.Listener
	var xaddr string
	if xb != nil {
		if cfg.XFTP.Listen != "" {
			raw, err := net.Listen("tcp", cfg.XFTP.Listen)
			if err != nil {
				ln.Close()
				return fmt.Errorf("xftp.listen: %w", err)
			}
			xln = httpserver.LimitConns(raw, connLimits)
		}
		a, err := xftpAddress(cfg, xb, sc.Password, addr.Host, xln)
		if err != nil {
			log.Warn("no XFTP address with the upload password", "err", err)
		}
		xaddr = a.String()
		if err := writeAddress(filepath.Join(cfg.Data, "xftp-address"), xaddr); err != nil {
			ln.Close()
			return err
		}
	}
	// Both addresses are in their files before the first is printed.
	fmt.Fprintln(stdout, addr.String())
	if xaddr != "" {
		fmt.Fprintln(stdout, xaddr)
	}
	log.Info("xftpd serving", "listen", ln.Addr().String(), "tls", cfg.TLS, "storage", cfg.Storage.Backend,
		"records", cfg.Records.Backend, "quota", humanize.IBytes(uint64(sc.Quota)), "expiry", sc.Expiry)

	sweepCtx, stopSweep := context.WithCancel(context.Background())
	sweepDone := make(chan struct{})
	go func() { svc.Run(sweepCtx); close(sweepDone) }()

	serveErr := make(chan error, 2)
	serve := func(l net.Listener) {
		if cfg.TLS {
			serveErr <- srv.ServeTLS(l, "", "")
		} else {
			serveErr <- srv.Serve(l)
		}
	}
	go serve(ln)
	if xln != nil {
		go serve(xln)
	}
	select {
	case err := <-serveErr:
		stopSweep()
		<-sweepDone
		return err
	case <-ctx.Done():
	}
	grace := time.Duration(cfg.Grace)
	log.Info("shutting down", "grace", grace)
	shutCtx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err = srv.Shutdown(shutCtx)
	stopSweep()
	<-sweepDone
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		srv.Close()
		log.Warn("transfers still in flight were cut off at the grace deadline")
	}
	log.Info("stopped")
	return nil
}

// publicHost is the host:port clients dial.
func publicHost(host string, ln *net.TCPAddr) string {
	port := fmt.Sprint(ln.Port)
	if host != "" {
		if h, p, err := net.SplitHostPort(host); err == nil {
			return net.JoinHostPort(h, p)
		}
		return net.JoinHostPort(host, port)
	}
	if ln.IP.IsUnspecified() {
		return net.JoinHostPort("localhost", port)
	}
	return net.JoinHostPort(ln.IP.String(), port)
}

func writeAddress(path, addr string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(addr+"\n"), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// inUseHint says what to do when a port is taken.
func inUseHint(err error, flag string) string {
	if errors.Is(err, syscall.EADDRINUSE) {
		return " (another xftpd or program has it: choose another " + flag + ", or port 0 for a free one)"
	}
	return ""
}
