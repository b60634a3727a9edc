package api

import (
	"testing"
)

func FuzzParseAuthHeader(f *testing.F) {
	f.Add("ts=1700000000, nonce=AAAAAAAAAAAAAAAAAAAAAA, sig=" + enc.EncodeToString(make([]byte, 64)))
	f.Add("ts=1, nonce=, sig=")
	f.Add("ts=-1, nonce=AAAAAAAAAAAAAAAAAAAAAA, sig=AA")
	f.Add(",,")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseAuthHeader(s)
		if err != nil {
			return
		}
		// Whatever parses formats back to a header that parses to the same.
		h2, err := ParseAuthHeader(h.String())
		if err != nil || h2.Timestamp != h.Timestamp || string(h2.Nonce) != string(h.Nonce) || string(h2.Signature) != string(h.Signature) {
			t.Fatalf("round trip of %q failed: %v", s, err)
		}
	})
}

func FuzzParseAddress(f *testing.F) {
	f.Add("xftp://" + enc.EncodeToString(make([]byte, 32)) + "@example.com:443")
	f.Add("xftp://" + enc.EncodeToString(make([]byte, 32)) + ":pass@[::1]:5443")
	f.Add("xftp://x@y")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddress(s)
		if err != nil {
			return
		}
		b, err := ParseAddress(a.String())
		if err != nil || b != a {
			t.Fatalf("round trip of %q: %v", s, err)
		}
	})
}
