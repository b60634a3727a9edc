package onion

import (
	"bytes"
	"crypto/rand"
	"testing"
)

// FuzzParseLayer: whatever parses marshals back to the same bytes.
func FuzzParseLayer(f *testing.F) {
	f.Add((&Layer{Kind: KindRelay, Next: "xftp://x@h:1", Inner: []byte("in")}).Marshal())
	f.Add((&Layer{Kind: KindKey, Next: "n"}).Marshal())
	f.Add([]byte{})
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

// FuzzOpen: no sealed input makes Open panic, and nothing but a sealed
// layer opens.
func FuzzOpen(f *testing.F) {
	k := testKey(f)
	l := Layer{Kind: KindRelay, Next: "xftp://x@h:1", Inner: []byte("in")}
	rand.Read(l.ResponseKey[:])
	sealed, _ := Seal(k.PublicKey().Bytes(), &l)
	f.Add(sealed)
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := Open(k, b)
		if err == nil && !bytes.Equal(b, sealed) {
			// Only a real seal opens; any other success is a forgery.
			if got.Next != l.Next {
				t.Fatalf("forged layer opened: %x", b)
			}
		}
	})
}

func FuzzParseRequest(f *testing.F) {
	f.Add((&Request{Path: "/v1/chunks/AAAA/download", Auth: "a", Body: []byte("{}")}).Marshal())
	f.Add((&Request{Path: "/v1/chunks/AAAA/ack"}).Marshal())
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
