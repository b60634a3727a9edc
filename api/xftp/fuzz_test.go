package xftp

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
)

func seedsFromVectors(f *testing.F) {
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		f.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		f.Fatal(err)
	}
	for _, h := range v.Transmissions {
		msg, _ := hex.DecodeString(h)
		f.Add(msg)
	}
}

// FuzzTransmission: any block either parses, with a command that parses
// and re-encodes to the same bytes, or is refused; nothing panics.
func FuzzTransmission(f *testing.F) {
	seedsFromVectors(f)
	f.Fuzz(func(t *testing.T, msg []byte) {
		block, err := Pad(msg)
		if err != nil {
			return
		}
		tr, err := ParseTransmission(block)
		if err != nil {
			return
		}
		checkClone(t, block, tr)
		c, cerr := ParseCommand(tr.Command)
		if cerr != nil {
			return
		}
		b, err := c.Encode()
		if err != nil {
			t.Fatalf("a parsed command does not encode: %v", err)
		}
		if !bytes.Equal(b, tr.Command) {
			t.Fatalf("parse/encode changed %q to %q", tr.Command, b)
		}
	})
}

func FuzzResponse(f *testing.F) {
	for _, s := range []string{"OK", "PONG", "ERR AUTH", "ERR CMD SYNTAX", `ERR BLOCKED reason=spam,notice={"ttl":5}`, "SIDS \x01a\x01\x01b", "RIDS \x02\x01a\x01b"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseResponse(b)
		if err != nil {
			return
		}
		if _, err := r.Encode(VersionMax); err != nil && r.Tag != ERR {
			t.Fatalf("a parsed response does not encode: %v", err)
		}
	})
}

func FuzzHandshake(f *testing.F) {
	hello := &ServerHello{MinVersion: 1, MaxVersion: 3, SessionID: []byte("s"), CertChain: [][]byte{{1}, {2}}, SignedKey: []byte{3}, IdentityProof: []byte{4}}
	b, _ := hello.Encode()
	m, _ := Unpad(b)
	f.Add(m)
	f.Add([]byte("HANDSHAKE"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		block, err := Pad(msg)
		if err != nil {
			return
		}
		ParseServerHello(block)
		ParseClientHello(block)
		ParseClientHandshake(block)
	})
}

func FuzzAddress(f *testing.F) {
	f.Add("xftp://da1aH3nOT-9G8lV7bWamhxpDYdJ1xmW7j3JpGaDR5Ug=@xftp1.simplex.im")
	f.Add("xftp://da1aH3nOT-9G8lV7bWamhxpDYdJ1xmW7j3JpGaDR5Ug:pw@[::1]:443")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddress(s)
		if err != nil {
			return
		}
		b, err := ParseAddress(a.String())
		if err != nil || b.String() != a.String() {
			t.Fatalf("%q -> %q does not parse back (%v)", s, a.String(), err)
		}
	})
}

// FuzzSignedDHKey: VerifyDHKey never panics, and accepts only what
// SignDHKey makes with the leaf's key.
func FuzzSignedDHKey(f *testing.F) {
	leafPub, leaf, _ := ed25519.GenerateKey(nil)
	f.Add(SignDHKey(leaf, make([]byte, 32)))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := VerifyDHKey(b, leafPub)
		if err != nil {
			return
		}
		if !bytes.Equal(SignDHKey(leaf, k), b) {
			t.Fatalf("accepted a signed key SignDHKey would not make")
		}
	})
}
