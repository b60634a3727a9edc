package xftp

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"os"
	"reflect"
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

// FuzzResponse: whatever parses encodes, at the newest version, to bytes
// that parse to the same response; a server block carrying it parses too.
func FuzzResponse(f *testing.F) {
	for _, s := range []string{"OK", "PONG", "ERR AUTH", "ERR CMD SYNTAX", `ERR BLOCKED reason=spam,notice={"ttl":5}`, "SIDS \x01a\x01\x01b", "RIDS \x02\x01a\x01b"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if block, err := Pad(b); err == nil {
			ParseResponseTransmission(block)
		}
		r, err := ParseResponse(b)
		if err != nil {
			return
		}
		enc, err := r.Encode(VersionMax)
		if err != nil {
			t.Fatalf("a parsed response does not encode: %v", err)
		}
		r2, err := ParseResponse(enc)
		if err != nil {
			t.Fatalf("%q encodes to %q, which does not parse: %v", b, enc, err)
		}
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("%q encodes to %q, which parses to another response", b, enc)
		}
		// A block holds 5 bytes of framing and 7 of authenticator and IDs
		// before the response; a larger response is no server's to send.
		if len(enc) > BlockSize-12 {
			return
		}
		block, err := EncodeResponse([]byte("s"), []byte("c"), []byte("e"), r, VersionMax)
		if err != nil {
			t.Fatalf("a parsed response does not fit a block: %v", err)
		}
		rt, err := ParseResponseTransmission(block)
		if err != nil || !reflect.DeepEqual(rt.Response, r) || string(rt.SessionID) != "s" || string(rt.CorrID) != "c" || string(rt.EntityID) != "e" {
			t.Fatalf("the block of %q does not parse back: %v", b, err)
		}
	})
}

// FuzzHandshake: the three handshake parsers never panic, and what each
// accepts encodes to a block that parses to the same message.
func FuzzHandshake(f *testing.F) {
	hello := &ServerHello{MinVersion: 1, MaxVersion: 3, SessionID: []byte("s"), CertChain: [][]byte{{1}, {2}}, SignedKey: []byte{3}, IdentityProof: []byte{4}}
	b, _ := hello.Encode()
	m, _ := Unpad(b)
	f.Add(m)
	f.Add([]byte("HANDSHAKE"))
	f.Add(append([]byte{'1', ChallengeSize}, make([]byte, ChallengeSize)...))
	f.Add([]byte{0, 3, 32, 1, 2})
	f.Fuzz(func(t *testing.T, msg []byte) {
		block, err := Pad(msg)
		if err != nil {
			return
		}
		if h, err := ParseServerHello(block); err == nil {
			// A hello without the identity proof's byte grows by one;
			// only a hello that then fits a block is the server's to send.
			if enc, err := h.Encode(); err == nil {
				h2, err := ParseServerHello(enc)
				if err != nil || !reflect.DeepEqual(h, h2) {
					t.Fatalf("server hello %x does not survive encoding: %v", msg, err)
				}
			} else if len(msg) < BlockSize-3 {
				t.Fatalf("a parsed server hello does not encode: %v", err)
			}
		}
		if ch, err := ParseClientHello(block); err == nil && ch != nil {
			enc, err := EncodeClientHello(ch)
			if err != nil {
				t.Fatalf("a parsed challenge does not encode: %v", err)
			}
			if ch2, err := ParseClientHello(enc); err != nil || !bytes.Equal(ch, ch2) {
				t.Fatalf("client hello %x does not survive encoding: %v", msg, err)
			}
		}
		if h, err := ParseClientHandshake(block); err == nil {
			enc, err := h.Encode()
			if err != nil {
				t.Fatalf("a parsed client handshake does not encode: %v", err)
			}
			if h2, err := ParseClientHandshake(enc); err != nil || !reflect.DeepEqual(h, h2) {
				t.Fatalf("client handshake %x does not survive encoding: %v", msg, err)
			}
		}
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
