package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/xftp/xftp/internal/metrics"
)

// startMetrics serves Prometheus metrics when metrics.listen is set. It
// returns nil metrics when they are off.
func startMetrics(cfg Config, b *backends, quota int64, log *slog.Logger) (*metrics.Metrics, func(), error) {
	if cfg.Metrics.Listen == "" {
		return nil, func() {}, nil
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(reg)
	metrics.RegisterUsage(reg, quota, b.records.Usage)
	ln, err := net.Listen("tcp", cfg.Metrics.Listen)
	if err != nil {
		return nil, nil, fmt.Errorf("metrics.listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	log.Info("metrics serving", "listen", ln.Addr().String())
	return m, func() { srv.Close() }, nil
}

// probeCommand is the container health check: it asks this xftpd's own
// listener for /readyz.
func probeCommand(f *flagOverrides) *cobra.Command {
	return &cobra.Command{
		Use:   "probe",
		Short: "Exit 0 if the xftpd configured here answers /readyz with 200 (for health checks)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := resolve(cmd, *f)
			if err != nil {
				return err
			}
			host, port, err := net.SplitHostPort(cfg.Listen)
			if err != nil {
				return fmt.Errorf("listen: %w", err)
			}
			if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
				host = "127.0.0.1"
			}
			scheme := "https"
			if !cfg.TLS {
				scheme = "http"
			}
			c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
				// Local probe of our own listener: the identity is ours.
				TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
			}}
			ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+net.JoinHostPort(host, port)+"/readyz", nil)
			resp, err := c.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return errors.New("not ready: " + resp.Status)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "ready")
			return nil
		},
	}
}
