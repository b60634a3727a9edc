package onion

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/xftp/xftp/internal/stream"
)

func testKey(t testing.TB) *ecdh.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i)
	}
	k, err := ProxyKey(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestProxyKeyIsDeterministic(t *testing.T) {
	a, b := testKey(t), testKey(t)
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("the proxy key depends on more than the identity")
	}
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	c, _ := ProxyKey(other)
	if bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Fatal("two identities share a proxy key")
	}
	if !strings.HasPrefix(string(ProxyKeyMessage(a.PublicKey().Bytes())), "xftp proxy key v1\x00") {
		t.Fatal("context")
	}
}

func TestLayerRoundTrip(t *testing.T) {
	k := testKey(t)
	for _, l := range []Layer{
		{Kind: KindRelay, Next: "xftp://x@h:1", Inner: []byte("inner")},
		{Kind: KindRequest, Next: strings.Repeat("a", MaxAddress), Inner: make([]byte, 512)},
		{Kind: KindKey, Next: "n"},
	} {
		rand.Read(l.ResponseKey[:])
		sealed, err := Seal(k.PublicKey().Bytes(), &l)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Open(k, sealed)
		if err != nil {
			t.Fatal(err)
		}
		if got.ResponseKey != l.ResponseKey || got.Kind != l.Kind || got.Next != l.Next || !bytes.Equal(got.Inner, l.Inner) {
			t.Fatalf("got %+v, want %+v", got, l)
		}
		// Sealing twice gives different bytes (fresh ephemeral key).
		again, _ := Seal(k.PublicKey().Bytes(), &l)
		if bytes.Equal(again, sealed) {
			t.Fatal("two seals of one layer are equal")
		}
	}
}

func TestLayerRefusals(t *testing.T) {
	k := testKey(t)
	l := Layer{Kind: KindRelay, Next: "xftp://x@h:1", Inner: []byte("inner")}
	sealed, _ := Seal(k.PublicKey().Bytes(), &l)
	other, _ := ecdh.X25519().GenerateKey(rand.Reader)
	cases := map[string][]byte{
		"empty":       nil,
		"short":       sealed[:Overhead-1],
		"version":     append([]byte{1}, sealed[1:]...),
		"flipped eph": flip(sealed, 5),
		"flipped ct":  flip(sealed, len(sealed)-1),
		"truncated":   sealed[:len(sealed)-1],
		"too large":   make([]byte, MaxLayer+1),
	}
	for name, b := range cases {
		if _, err := Open(k, b); !errors.Is(err, ErrLayer) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := Open(other, sealed); !errors.Is(err, ErrLayer) {
		t.Errorf("another proxy's key opens the layer: %v", err)
	}
	// Plaintexts that are not canonical.
	good := l.Marshal()
	bad := map[string][]byte{
		"kind 0":        set(good, 32, 0),
		"kind 4":        set(good, 32, 4),
		"no next":       set(set(good, 33, 0), 34, 0),
		"padding":       set(good, 33+2+len(l.Next), 'x'),
		"trailing":      append(append([]byte{}, good...), 0),
		"inner too big": set(good, len(good)-len(l.Inner)-1, 99),
		"key with body": (&Layer{Kind: KindKey, Next: "n", Inner: []byte{1}}).Marshal(),
		"relay no body": (&Layer{Kind: KindRelay, Next: "n"}).Marshal(),
	}
	for name, b := range bad {
		if _, err := ParseLayer(b); !errors.Is(err, ErrLayer) {
			t.Errorf("%s parses: %v", name, err)
		}
	}
}

func flip(b []byte, i int) []byte { return set(b, i, b[i]^1) }

func set(b []byte, i int, v byte) []byte {
	out := append([]byte{}, b...)
	out[i] = v
	return out
}

func TestRequestRoundTrip(t *testing.T) {
	for _, r := range []Request{
		{Path: "/v1/chunks/AAAA/download", Auth: "ts=1, nonce=x, sig=y", Body: []byte(`{"key":"k"}`)},
		{Path: "/v1/chunks/" + strings.Repeat("A", 32) + "/ack", Auth: strings.Repeat("a", 1024)},
	} {
		b := r.Marshal()
		if len(b)%requestPad != 0 {
			t.Fatalf("not padded: %d", len(b))
		}
		got, err := ParseRequest(b)
		if err != nil || got.Path != r.Path || got.Auth != r.Auth || !bytes.Equal(got.Body, r.Body) {
			t.Fatalf("%+v %v", got, err)
		}
	}
	// A download and an ack of one ID look alike.
	d := (&Request{Path: "/v1/chunks/AAAA/download", Auth: "a", Body: []byte(`{"key":"YFpyXSpK3-6xop4X7dYhwbdZPujNvESsbEq24vgF0jw"}`)}).Marshal()
	a := (&Request{Path: "/v1/chunks/AAAA/ack", Auth: "a"}).Marshal()
	if len(d) != len(a) {
		t.Fatalf("download %d bytes, ack %d", len(d), len(a))
	}
}

func TestRequestRefusals(t *testing.T) {
	for name, r := range map[string]Request{
		"create":     {Path: "/v1/chunks", Auth: "a"},
		"upload":     {Path: "/v1/chunks/AAAA", Auth: "a"},
		"recipients": {Path: "/v1/chunks/AAAA/recipients", Auth: "a"},
		"traversal":  {Path: "/v1/chunks/../admin/download", Auth: "a"},
		"ping":       {Path: "/v1/ping", Auth: "a"},
		"big body":   {Path: "/v1/chunks/AAAA/download", Auth: "a", Body: make([]byte, MaxRequestBody+1)},
	} {
		if _, err := ParseRequest(r.Marshal()); !errors.Is(err, ErrRequest) {
			t.Errorf("%s: %v", name, err)
		}
	}
	good := (&Request{Path: "/v1/chunks/AAAA/ack", Auth: "a"}).Marshal()
	for name, b := range map[string][]byte{
		"unpadded":      good[:len(good)-1],
		"dirty padding": set(good, len(good)-1, 1),
		"extra padding": append(append([]byte{}, good...), make([]byte, requestPad)...),
		"empty":         nil,
	} {
		if _, err := ParseRequest(b); !errors.Is(err, ErrRequest) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestAnswerAndRefusalFrames(t *testing.T) {
	a := Answer{Status: 200, Date: 1750000000, RetryAfter: 5, Identity: make([]byte, 32), ServerKey: make([]byte, 32), KeySignature: make([]byte, 64), BodyLength: 65568}
	got, err := ReadAnswer(bytes.NewReader(a.Marshal()))
	if err != nil || got.Status != a.Status || got.Date != a.Date || got.RetryAfter != a.RetryAfter || got.BodyLength != a.BodyLength ||
		len(got.Identity) != 32 || len(got.ServerKey) != 32 || len(got.KeySignature) != 64 {
		t.Fatalf("%+v %v", got, err)
	}
	b := a.Marshal()
	for i := 0; i < len(b); i++ {
		if _, err := ReadAnswer(bytes.NewReader(b[:i])); !errors.Is(err, ErrFrame) {
			t.Fatalf("truncated at %d: %v", i, err)
		}
	}
	huge := a
	huge.BodyLength = MaxAnswerBody + 1
	if _, err := ReadAnswer(bytes.NewReader(huge.Marshal())); !errors.Is(err, ErrFrame) {
		t.Fatal("a huge body is accepted")
	}
	f := Refusal{Status: 403, Code: "PROXY_REFUSED"}
	gf, err := ReadRefusal(bytes.NewReader(f.Marshal()))
	if err != nil || *gf != f {
		t.Fatalf("%+v %v", gf, err)
	}
	if _, err := ReadRefusal(bytes.NewReader((&Refusal{Code: "bad\x1b"}).Marshal())); !errors.Is(err, ErrFrame) {
		t.Fatal("a refusal with control characters is accepted")
	}
}

// TestResponseLayersDiffer: the same answer relayed by two hops looks
// different on each link, and the client opens it by unwrapping in order.
func TestResponseLayersDiffer(t *testing.T) {
	var k1, k2 [ResponseKeySize]byte
	rand.Read(k1[:])
	rand.Read(k2[:])
	c1, _ := ResponseCipher(k1, NewAnswerSalt())
	c2, _ := ResponseCipher(k2, NewAnswerSalt())
	payload := make([]byte, 200<<10)
	rand.Read(payload)
	var inner bytes.Buffer // what hop 2 sends hop 1
	w2 := stream.NewWriter(c2, &inner)
	w2.Write(append([]byte{TypeAnswer}, payload...))
	w2.Close()
	var outer bytes.Buffer // what hop 1 sends the client
	w1 := stream.NewWriter(c1, &outer)
	w1.Write([]byte{TypeRelayed})
	w1.Write(inner.Bytes())
	w1.Close()
	if bytes.Contains(outer.Bytes(), inner.Bytes()[:64]) {
		t.Fatal("the outer link carries the inner link's bytes")
	}
	r1 := stream.NewReader(c1, &outer)
	var t1 [1]byte
	io.ReadFull(r1, t1[:])
	r2 := stream.NewReader(c2, r1)
	got, err := io.ReadAll(r2)
	if err != nil || t1[0] != TypeRelayed || got[0] != TypeAnswer || !bytes.Equal(got[1:], payload) {
		t.Fatalf("unwrap: %v", err)
	}
}

// TestLayerSizeHidesTheAddressLength: layers that differ only in the next
// hop's address have the same size, so the proxy that opens one cannot
// tell how long the address it will not see is (issue 20, item 6).
func TestLayerSizeHidesTheAddressLength(t *testing.T) {
	k := testKey(t)
	size := -1
	for _, next := range []string{"n", "xftp://FP@h:1", "xftp://" + strings.Repeat("F", 43) + "@" + strings.Repeat("h", 253) + ":65535?tls=web"} {
		sealed, err := Seal(k.PublicKey().Bytes(), &Layer{Kind: KindRelay, Next: next, Inner: []byte("inner")})
		if err != nil {
			t.Fatal(err)
		}
		if size >= 0 && len(sealed) != size {
			t.Fatalf("a %d-byte address makes a %d-byte layer, another %d", len(next), len(sealed), size)
		}
		size = len(sealed)
	}
	if _, err := Seal(k.PublicKey().Bytes(), &Layer{Kind: KindRelay, Next: strings.Repeat("a", MaxAddress+1), Inner: []byte("x")}); err == nil {
		t.Fatal("an address over MaxAddress is sealed")
	}
}

// TestAnswerKeysAreSalted: one response key with two salts gives two
// different streams for the same plaintext (issue 20, item 9).
func TestAnswerKeysAreSalted(t *testing.T) {
	var k [ResponseKeySize]byte
	rand.Read(k[:])
	seal := func(salt []byte) []byte {
		c, err := ResponseCipher(k, salt)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		w := stream.NewWriter(c, &b)
		w.Write([]byte("the same answer"))
		w.Close()
		return b.Bytes()
	}
	if bytes.Equal(seal(NewAnswerSalt()), seal(NewAnswerSalt())) {
		t.Fatal("two answers under one response key are sealed alike")
	}
	if _, err := ResponseCipher(k, []byte("short")); err == nil {
		t.Fatal("a short salt is taken")
	}
}
