package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/client"
	"github.com/xftp/xftp/identity"
)

// proxyFlags are the download options for receiving proxies
// (docs/PROXY.md).
type proxyFlags struct {
	proxies, unless []string
	hops            int
}

func (p *proxyFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVar(&p.proxies, "proxy", nil, "download through this proxy, an xftp://FINGERPRINT@HOST:PORT address; repeat for a chain, in order (env XFTP_PROXIES)")
	fl.IntVar(&p.hops, "proxy-hops", 0, "proxies per route (default: all given); with more proxies than hops, the others stand by as spare routes")
	fl.StringArrayVar(&p.unless, "proxy-unless", nil, "reach servers with this fingerprint directly: an operator trusted with your address; repeatable (env XFTP_PROXY_UNLESS)")
}

func fields(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' })
}

// apply puts the proxy options, from flags or else the environment, into o.
func (p *proxyFlags) apply(o client.Options) (client.Options, error) {
	proxies, unless := p.proxies, p.unless
	if len(proxies) == 0 {
		proxies = fields(os.Getenv("XFTP_PROXIES"))
	}
	if len(unless) == 0 {
		unless = fields(os.Getenv("XFTP_PROXY_UNLESS"))
	}
	if len(proxies) == 0 {
		if len(unless) > 0 || p.hops != 0 {
			return o, fmt.Errorf("--proxy-unless and --proxy-hops need --proxy (or XFTP_PROXIES)")
		}
		return o, nil
	}
	for _, s := range proxies {
		if _, err := api.ParseAddress(s); err != nil {
			return o, fmt.Errorf("--proxy: %w", err)
		}
	}
	o.Proxy = client.ProxyOptions{Proxies: proxies, Hops: p.hops}
	for _, s := range unless {
		if a, err := api.ParseAddress(s); err == nil { // an address names its fingerprint too
			s = a.Fingerprint.String()
		}
		fp, err := identity.ParseFingerprint(s)
		if err != nil {
			return o, fmt.Errorf("--proxy-unless: %w", err)
		}
		o.Proxy.Direct = append(o.Proxy.Direct, fp)
	}
	return o, nil
}
