package main

import (
	"strings"
	"testing"
)

func TestProxyConfig(t *testing.T) {
	fp := strings.Repeat("A", 43)
	c, err := loadConfig("", env(map[string]string{"XFTPD_PROXY_ENABLED": "true", "XFTPD_PROXY_ALLOW": fp + "," + fp}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.serverConfig(env(nil)); err != nil {
		t.Fatal(err)
	}
	if !c.Proxy.Enabled || len(c.Proxy.Allow) != 2 || c.Proxy.MaxConcurrent != 64 {
		t.Fatalf("proxy config from the environment: %+v", c.Proxy)
	}
	for body, want := range map[string]string{
		"proxy:\n  enabled: true\n  allow: [nope]\n":            "proxy.allow",
		"proxy:\n  enabled: true\n  max_concurrent: 0\n":        "proxy.max_concurrent",
		"proxy:\n  enabled: true\n  rate_per_minute: -1\n":      "proxy.rate_per_minute",
		"proxy:\n  enabled: true\n  max_body: 1GiB\n":           "proxy.max_body",
		"proxy:\n  enabled: true\n  source_address: host.lan\n": "proxy.source_address",
	} {
		c, err := loadConfig(writeConfig(t, body), env(nil))
		if err == nil {
			_, err = c.serverConfig(env(nil))
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error naming %s", body, err, want)
		}
	}
}

func TestRefuseInternal(t *testing.T) {
	for addr, refused := range map[string]bool{
		"127.0.0.1:6379": true, "10.0.0.5:8443": true, "192.168.1.1:443": true, "169.254.169.254:80": true,
		"[::1]:443": true, "[fe80::1]:443": true, "0.0.0.0:443": true, "[fd00::1]:443": true,
		"93.184.216.34:443": false, "[2001:db8::1]:443": true,
		// Issue 20, item 10: carrier-grade NAT, NAT64 and 6to4 of internal
		// addresses, IETF and benchmarking ranges, 0/8, multicast, reserved.
		"100.64.0.1:80": true, "[64:ff9b::a00:1]:80": true, "[64:ff9b::7f00:1]:6379": true, "[2002:a00:1::1]:80": true,
		"[::ffff:127.0.0.1]:80": true, "192.0.0.8:80": true, "198.18.0.1:80": true, "0.1.2.3:80": true,
		"224.0.0.1:80": true, "[ff02::1]:80": true, "240.0.0.1:80": true, "255.255.255.255:80": true,
		"[fe80::1%eth0]:80": true, "[64:ff9b::5db8:d822]:443": false, "[2606:4700::1111]:443": false,
		"8.8.8.8:53": false, "not an address": true,
	} {
		if got := refuseInternal("tcp", addr, nil) != nil; got != refused {
			t.Errorf("refuseInternal(%s) refused=%v, want %v", addr, got, refused)
		}
	}
}

// TestProxyAllowListKeepsTheFilter: an allow-list narrows the next hops,
// it does not open internal addresses (issue 20, item 10).
func TestProxyAllowListKeepsTheFilter(t *testing.T) {
	if proxyDialer(ProxyConfig{Allow: []string{strings.Repeat("A", 43)}}).Control == nil {
		t.Fatal("an allow-list switches the internal-address filter off")
	}
	if proxyDialer(ProxyConfig{InternalDestinations: true}).Control != nil {
		t.Fatal("internal_destinations: true keeps the filter")
	}
}
