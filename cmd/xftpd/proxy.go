package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/api/httpclient"
	"github.com/xftp/xftp/identity"
	"github.com/xftp/xftp/internal/proxy"
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
	// MaxConcurrentPerSource caps one source address's requests in flight
	// (0: a quarter of max_concurrent).
	MaxConcurrentPerSource int `yaml:"max_concurrent_per_source"`
	// RatePerMinute caps proxied requests per source address (0: off).
	RatePerMinute int `yaml:"rate_per_minute"`
	// MaxBody caps an answer body relayed back.
	MaxBody Size `yaml:"max_body"`
	// SourceAddress is the local IP address to connect to next hops from
	// (empty: the system's choice).
	SourceAddress string `yaml:"source_address"`
	// InternalDestinations lets the proxy connect to loopback, private,
	// link-local and other special-purpose addresses (internalPrefixes).
	// Off by default, so that a proxy cannot be used to probe its own
	// network (Redis, the admin API, other hosts behind it). An allow-list
	// does not switch it on: it only narrows the next hops further.
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
	case p.MaxConcurrentPerSource < 0 || p.MaxConcurrentPerSource > p.MaxConcurrent:
		return fmt.Errorf("proxy.max_concurrent_per_source: must be between 0 (a quarter of max_concurrent) and max_concurrent")
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
	d := proxyDialer(cfg)
	o := proxy.Options{Identity: id, Allow: allow, MaxConcurrent: cfg.MaxConcurrent, MaxConcurrentPerSource: cfg.MaxConcurrentPerSource, RatePerMinute: cfg.RatePerMinute,
		MaxBody: int64(cfg.MaxBody), Logger: log, ClientOptions: httpclient.ClientOptions{Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
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

// proxyDialer is how the proxy connects to next hops: internal addresses
// refused unless the operator allowed them, whatever the allow-list.
func proxyDialer(cfg ProxyConfig) *net.Dialer {
	d := &net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}
	if !cfg.InternalDestinations {
		d.Control = refuseInternal
	}
	if cfg.SourceAddress != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(cfg.SourceAddress)}
	}
	return d
}

// errInternalDestination refuses a next hop on an internal address.
var errInternalDestination = errors.New("proxy: next hop is on an internal address")

// internalPrefixes are the addresses a proxy does not connect to: not
// globally reachable (IANA special-purpose registries), or embedding an
// IPv4 address that the checks below unwrap.
var internalPrefixes = func() []netip.Prefix {
	var out []netip.Prefix
	for _, p := range []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
		"192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
		"198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
		"::/128", "::1/128", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32",
		"fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
	} {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}()

// embeddedIPv4 returns the IPv4 address inside an IPv4-mapped, NAT64
// (64:ff9b::/96) or 6to4 (2002::/16) address.
func embeddedIPv4(a netip.Addr) (netip.Addr, bool) {
	b := a.As16()
	switch {
	case a.Is4In6():
		return a.Unmap(), true
	case netip.MustParsePrefix("64:ff9b::/96").Contains(a):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case netip.MustParsePrefix("2002::/16").Contains(a):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}

// refuseInternal is a net.Dialer.Control that refuses internalPrefixes,
// also when embedded in an IPv6 address (NAT64, 6to4, IPv4-mapped).
// Checking at dial time covers host names that resolve to such addresses.
func refuseInternal(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return errInternalDestination
	}
	a := ap.Addr().WithZone("")
	if v4, ok := embeddedIPv4(a); ok {
		a = v4
	}
	for _, p := range internalPrefixes {
		if p.Contains(a) {
			return errInternalDestination
		}
	}
	return nil
}
