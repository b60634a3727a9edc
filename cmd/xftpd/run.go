package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/identity"
	"github.com/xftp/xftp/server"
	"github.com/xftp/xftp/storage/disk"
	"github.com/xftp/xftp/storage/embedded"
)

type flags struct {
	data, listen, host  string
	quota, chunkSizes   string
	expiry, grace       time.Duration
	passwordFile        string
	noNew, plain        bool
	logLevel, logFormat string
	maxStreams          int
}

func newCommand() *cobra.Command {
	var f flags
	cmd := &cobra.Command{
		Use:           "xftpd",
		Short:         "xftp relay server",
		Args:          cobra.NoArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd.Context(), f, cmd.OutOrStdout())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.data, "data", envOr("XFTPD_DATA", "xftpd-data"), "data directory: identity key, chunk bodies, record database (env XFTPD_DATA)")
	fl.StringVar(&f.listen, "listen", envOr("XFTPD_LISTEN", "127.0.0.1:5443"), "address to listen on; port 0 picks a free port (env XFTPD_LISTEN)")
	fl.StringVar(&f.host, "host", envOr("XFTPD_HOST", ""), "host name clients use, for the printed address (default: the listen host) (env XFTPD_HOST)")
	fl.StringVar(&f.quota, "quota", envOr("XFTPD_QUOTA", "0"), "storage quota over all created chunks, e.g. 10GiB; 0 means none (env XFTPD_QUOTA)")
	fl.StringVar(&f.chunkSizes, "chunk-sizes", "64KiB,256KiB,1MiB,4MiB", "accepted chunk sizes")
	fl.DurationVar(&f.expiry, "expiry", 48*time.Hour, "how long chunks live")
	fl.DurationVar(&f.grace, "grace", 30*time.Second, "on shutdown, how long transfers in flight may take to finish")
	fl.StringVar(&f.passwordFile, "password-file", "", "file holding the upload password (or env XFTPD_PASSWORD); it becomes part of the address")
	fl.BoolVar(&f.noNew, "no-new-chunks", false, "refuse to create new chunks (downloads continue)")
	fl.BoolVar(&f.plain, "plain", false, "serve HTTP/1.1 and h2c without TLS, behind a TLS-terminating reverse proxy (see docs/PROTOCOL.md)")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fl.StringVar(&f.logFormat, "log-format", "text", "text or json")
	fl.IntVar(&f.maxStreams, "max-streams", 128, "concurrent HTTP/2 streams per connection")
	return cmd
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func newLogger(level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	o := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, o)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, o)), nil
	}
	return nil, fmt.Errorf("--log-format: %q is neither text nor json", format)
}

func parseConfig(f flags) (server.Config, error) {
	cfg := server.DefaultConfig()
	cfg.Expiry = f.expiry
	cfg.AllowNew = !f.noNew
	q, err := humanize.ParseBytes(f.quota)
	if err != nil {
		return cfg, fmt.Errorf("--quota %q: want a size like 10GiB or 500MB", f.quota)
	}
	cfg.Quota = int64(q)
	cfg.ChunkSizes = nil
	for _, s := range strings.Split(f.chunkSizes, ",") {
		n, err := humanize.ParseBytes(strings.TrimSpace(s))
		if err != nil {
			return cfg, fmt.Errorf("--chunk-sizes: %q is not a size", s)
		}
		cfg.ChunkSizes = append(cfg.ChunkSizes, int64(n))
	}
	cfg.Password = os.Getenv("XFTPD_PASSWORD")
	if f.passwordFile != "" {
		b, err := os.ReadFile(f.passwordFile)
		if err != nil {
			return cfg, fmt.Errorf("--password-file: %w", err)
		}
		cfg.Password = strings.TrimSpace(string(b))
	}
	return cfg, cfg.Validate()
}

func run(ctx context.Context, f flags, stdout interface{ Write([]byte) (int, error) }) error {
	log, err := newLogger(f.logLevel, f.logFormat)
	if err != nil {
		return err
	}
	cfg, err := parseConfig(f)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(f.data, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	id, created, err := identity.LoadOrCreate(filepath.Join(f.data, "identity.pem"))
	if err != nil {
		return err
	}
	if created {
		log.Info("created a new server identity", "fingerprint", id.Fingerprint().String())
	}
	store, err := disk.Open(filepath.Join(f.data, "chunks"))
	if err != nil {
		return err
	}
	records, err := embedded.Open(filepath.Join(f.data, "records.db"), 2*time.Second)
	if err != nil {
		return err
	}
	defer records.Close()
	svc, err := server.New(cfg, server.Options{Identity: id, Store: store, Records: records, Logger: log})
	if err != nil {
		return err
	}
	handler := api.NewHandler(svc, api.HandlerOptions{Logger: log})
	srv, err := api.NewHTTPServer(handler.Routes(), id, api.ServerOptions{Plain: f.plain, MaxConcurrentStreams: f.maxStreams, Logger: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	addr := api.Address{Fingerprint: id.Fingerprint(), Password: cfg.Password, Host: publicHost(f.host, ln.Addr().(*net.TCPAddr))}
	if err := writeAddress(filepath.Join(f.data, "address"), addr.String()); err != nil {
		ln.Close()
		return err
	}
	fmt.Fprintln(stdout, addr.String())
	log.Info("xftpd serving", "listen", ln.Addr().String(), "tls", !f.plain, "quota", humanize.IBytes(uint64(cfg.Quota)), "expiry", cfg.Expiry)

	sweepCtx, stopSweep := context.WithCancel(context.Background())
	sweepDone := make(chan struct{})
	go func() { svc.Run(sweepCtx); close(sweepDone) }()

	serveErr := make(chan error, 1)
	go func() {
		if f.plain {
			serveErr <- srv.Serve(ln)
		} else {
			serveErr <- srv.ServeTLS(ln, "", "")
		}
	}()
	select {
	case err := <-serveErr:
		stopSweep()
		<-sweepDone
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", f.grace)
	shutCtx, cancel := context.WithTimeout(context.Background(), f.grace)
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
