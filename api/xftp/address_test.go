package xftp

import (
	"strings"
	"testing"
)

// TestAddressHosts: brackets only around a whole IPv6 host, a colon only
// inside them; whatever parses formats back to itself (the fuzzer found
// "@]]" accepted as the host "]", which formatted to an unparsable "@]").
func TestAddressHosts(t *testing.T) {
	const kh = "xftp://da1aH3nOT-9G8lV7bWamhxpDYdJ1xmW7j3JpGaDR5Ug="
	good := map[string]string{
		"@xftp1.simplex.im":        "xftp1.simplex.im",
		"@[::1]:5443":              "::1",
		"@a.example,[2001:db8::1]": "a.example",
	}
	for in, host := range good {
		a, err := ParseAddress(kh + in)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if a.Hosts[0] != host {
			t.Errorf("%s: first host %q, want %q", in, a.Hosts[0], host)
		}
		if b, err := ParseAddress(a.String()); err != nil || b.String() != a.String() {
			t.Errorf("%s: %q does not parse back (%v)", in, a.String(), err)
		}
	}
	for _, in := range []string{"@]]", "@]", "@[", "@[]", "@[::1", "@::1]", "@a]b", "@a[b", "@x,::1", "@[a]]"} {
		if a, err := ParseAddress(kh + in); err == nil {
			t.Errorf("%s: accepted as %q", in, a.String())
		} else if !strings.HasPrefix(err.Error(), "xftp: bad ") {
			t.Errorf("%s: %v", in, err)
		}
	}
}

// TestAddressKeyHashIsCanonical: a key hash has one text form, padded with
// SimpleX's one '=' or not; line breaks, stray bits in the last character
// and extra padding are refused.
func TestAddressKeyHashIsCanonical(t *testing.T) {
	const kh, host = "da1aH3nOT-9G8lV7bWamhxpDYdJ1xmW7j3JpGaDR5Ug", "@xftp1.simplex.im"
	for _, in := range []string{kh, kh + "="} {
		if _, err := ParseAddress("xftp://" + in + host); err != nil {
			t.Errorf("%s: %v", in, err)
		}
	}
	for name, in := range map[string]string{
		"stray bits":    kh[:len(kh)-1] + "h=",
		"line break":    kh[:10] + "\n" + kh[10:],
		"CR":            kh[:10] + "\r" + kh[10:] + "=",
		"two paddings":  kh + "==",
		"short":         kh[:len(kh)-1],
		"padding first": "=" + kh,
	} {
		if a, err := ParseAddress("xftp://" + in + host); err == nil {
			t.Errorf("%s: %q accepted as %s", name, in, a)
		}
	}
}
