package onion

import (
	"bytes"
	"crypto/ecdh"
	"testing"
)

// FuzzParseLayer: whatever parses marshals back to the same bytes.
func FuzzParseLayer(f *testing.F) {
	f.Add((&Layer{Kind: KindRelay, Next: "xftp://x@h:1", Inner: []byte("in")}).Marshal())
	f.Add((&Layer{Kind: KindKey, Next: "n"}).Marshal())
	f.Add([]byte{})
	v := loadVectors(f)
	for _, l := range v.Layers {
		f.Add([]byte(l.Plaintext))
	}
	for _, l := range v.BadLayers {
		if l.Plaintext != nil {
			f.Add([]byte(l.Plaintext))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseLayer(b)
		if err != nil {
			return
		}
		if !bytes.Equal(l.Marshal(), b) {
			t.Fatalf("round trip of %x", b)
		}
	})
}

// FuzzOpen: no input makes Open panic, and nothing but a layer sealed to
// the key opens. The key is P1's of the vectors, whose layers (and the
// refused ones) are seeds.
func FuzzOpen(f *testing.F) {
	v := loadVectors(f)
	k := proxyKeys(f, v)[0]
	// Fixed keys: the fuzzing workers run this again and must seal the
	// same bytes.
	l := Layer{ResponseKey: [ResponseKeySize]byte{1}, Kind: KindRelay, Next: "xftp://x@h:1", Inner: []byte("in")}
	eph, err := ecdh.X25519().NewPrivateKey(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		f.Fatal(err)
	}
	sealed, err := seal(eph, k.PublicKey().Bytes(), l.Marshal())
	if err != nil {
		f.Fatal(err)
	}
	known := map[string]bool{string(sealed): true}
	f.Add(sealed)
	f.Add([]byte{1})
	for _, l := range v.Layers {
		f.Add([]byte(l.Sealed))
		if l.Proxy == 0 {
			known[string(l.Sealed)] = true
		}
	}
	for _, l := range v.BadLayers {
		f.Add([]byte(l.Sealed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := Open(k, b); err == nil && !known[string(b)] {
			// Only a real seal opens; any other success is a forgery.
			t.Fatalf("forged layer opened: %x", b)
		}
	})
}

func FuzzParseRequest(f *testing.F) {
	f.Add((&Request{Path: "/v1/chunks/AAAA/download", Auth: "a", Body: []byte("{}")}).Marshal())
	f.Add((&Request{Path: "/v1/chunks/AAAA/ack"}).Marshal())
	v := loadVectors(f)
	for _, r := range v.Requests {
		f.Add([]byte(r.Encoded))
	}
	for _, r := range v.BadRequests {
		f.Add([]byte(r.Encoded))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRequest(b)
		if err != nil {
			return
		}
		if !bytes.Equal(r.Marshal(), b) {
			t.Fatalf("round trip of %x", b)
		}
	})
}

func FuzzReadAnswer(f *testing.F) {
	f.Add((&Answer{Status: 200, Identity: make([]byte, 32), ServerKey: make([]byte, 32), KeySignature: make([]byte, 64), BodyLength: 9}).Marshal())
	f.Add((&Answer{Status: 451, BodyLength: 100}).Marshal())
	v := loadVectors(f)
	for _, a := range v.Answers {
		f.Add([]byte(a.Encoded))
	}
	for _, a := range v.BadAnswers {
		f.Add([]byte(a.Encoded))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ReadAnswer(bytes.NewReader(b))
		if err != nil {
			return
		}
		m := a.Marshal()
		if !bytes.Equal(m, b[:len(m)]) {
			t.Fatalf("round trip of %x", b)
		}
	})
}

func FuzzReadRefusal(f *testing.F) {
	f.Add((&Refusal{Status: 403, Code: "PROXY_REFUSED"}).Marshal())
	f.Add((&Refusal{Code: "UNREACHABLE"}).Marshal())
	v := loadVectors(f)
	for _, r := range v.Refusals {
		f.Add([]byte(r.Encoded))
	}
	for _, r := range v.BadRefusals {
		f.Add([]byte(r.Encoded))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ReadRefusal(bytes.NewReader(b))
		if err != nil {
			return
		}
		m := r.Marshal()
		if !bytes.Equal(m, b[:len(m)]) {
			t.Fatalf("round trip of %x", b)
		}
	})
}
