package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/identity"
	"github.com/xftp/xftp/proxy"
	"github.com/xftp/xftp/server"
)

// ProxyConfig switches on the receiving-proxy role (docs/PROXY.md).
type ProxyConfig struct {
	Enabled bool `yaml:"enabled"`
	// Allow lists the fingerprints of the only next hops (servers and
	// proxies) forwarded to; empty allows every xftp server.
	Allow []string `yaml:"allow"`
	// MaxConcurrent caps proxied requests in flight.
	MaxConcurrent int `yaml:"max_concurrent"`
	// RatePerMinute caps proxied requests per source address (0: off).
	RatePerMinute int `yaml:"rate_per_minute"`
	// MaxBody caps an answer body relayed back.
	MaxBody Size `yaml:"max_body"`
	// SourceAddress is the local IP address to connect to next hops from
	// (empty: the system's choice).
	SourceAddress string `yaml:"source_address"`
	// InternalDestinations lets the proxy connect to loopback, private and
	// link-local addresses. Off by default, so that a proxy cannot be used
	// to probe its own network (Redis, the admin API, other hosts behind
	// it); an allow-list implies it.
	InternalDestinations bool `yaml:"internal_destinations"`
}

func defaultProxyConfig() ProxyConfig {
	return ProxyConfig{MaxConcurrent: 64, RatePerMinute: 1200, MaxBody: 64 << 20}
}

func (p ProxyConfig) validate() error {
	if !p.Enabled {
		return nil
	}
	if _, err := p.allow(); err != nil {
		return err
	}
	switch {
	case p.MaxConcurrent < 1:
		return fmt.Errorf("proxy.max_concurrent: must be at least 1")
	case p.RatePerMinute < 0:
		return fmt.Errorf("proxy.rate_per_minute: must not be negative (0 switches it off)")
	case p.MaxBody < 1 || p.MaxBody > 64<<20:
		return fmt.Errorf("proxy.max_body: must be between 1B and 64MiB")
	case p.SourceAddress != "" && net.ParseIP(p.SourceAddress) == nil:
		return fmt.Errorf("proxy.source_address: %q is not an IP address", p.SourceAddress)
	}
	return nil
}

func (p ProxyConfig) allow() ([]identity.Fingerprint, error) {
	var out []identity.Fingerprint
	for _, s := range p.Allow {
		fp, err := identity.ParseFingerprint(s)
		if err != nil {
			return nil, fmt.Errorf("proxy.allow: %w", err)
		}
		out = append(out, fp)
	}
	return out, nil
}

// mountProxy adds the proxy endpoints to routes when the role is on, and
// returns what stops it.
func mountProxy(cfg ProxyConfig, routes chi.Router, id *identity.Identity, m server.Metrics, log *slog.Logger) (func(), error) {
	if !cfg.Enabled {
		return func() {}, nil
	}
	allow, err := cfg.allow()
	if err != nil {
		return nil, err
	}
	d := &net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}
	if !cfg.InternalDestinations && len(allow) == 0 {
		d.Control = refuseInternal
	}
	if cfg.SourceAddress != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(cfg.SourceAddress)}
	}
	o := proxy.Options{Identity: id, Allow: allow, MaxConcurrent: cfg.MaxConcurrent, RatePerMinute: cfg.RatePerMinute,
		MaxBody: int64(cfg.MaxBody), Logger: log, ClientOptions: api.ClientOptions{Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		}}}
	if m != nil {
		o.Metrics = m
	}
	fwd, err := proxy.New(o)
	if err != nil {
		return nil, err
	}
	routes.Mount(api.ProxyPath, fwd.Routes())
	log.Info("proxy role on", "allow_list", len(allow), "max_concurrent", cfg.MaxConcurrent, "rate_per_minute", cfg.RatePerMinute)
	return fwd.Close, nil
}

// errInternalDestination refuses a next hop on an internal address.
var errInternalDestination = errors.New("proxy: next hop is on an internal address")

// refuseInternal is a net.Dialer.Control that refuses loopback, private,
// link-local, multicast and unspecified addresses. Checking at dial time
// covers host names that resolve to such addresses too.
func refuseInternal(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsMulticast() || ip.IsUnspecified() || ip.IsInterfaceLocalMulticast() {
		return errInternalDestination
	}
	return nil
}
