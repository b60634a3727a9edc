package dlcrypt

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/xftp/xftp/internal/stream"
)

func run32(first byte) []byte {
	b := make([]byte, 32)
	for i := range b {
		b[i] = first + byte(i)
	}
	return b
}

func unhex(t *testing.T, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDownloadKeyVector checks the download-key derivation against
// testdata/download-key.json (docs/PROTOCOL.md §13.4, which must show the
// same values): both sides derive the vector's key, the identity's
// signature over the keys is the vector's, and bad client keys are refused.
func TestDownloadKeyVector(t *testing.T) {
	b, err := os.ReadFile("testdata/download-key.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		IdentitySeed  string `json:"identity_seed"`
		ClientPrivate string `json:"client_private"`
		ServerPrivate string `json:"server_private"`
		ClientPublic  string `json:"client_public"`
		ServerPublic  string `json:"server_public"`
		KeySignature  string `json:"key_signature"`
		Shared, Key   string
		Negative      []struct {
			ClientPublic string `json:"client_public"`
		}
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{v.ClientPublic, v.ServerPublic, v.KeySignature, v.Shared, v.Key} {
		if !strings.Contains(string(doc), s) {
			t.Errorf("docs/PROTOCOL.md does not show %s", s)
		}
	}
	b64 := base64.RawURLEncoding
	client, err := ecdh.X25519().NewPrivateKey(run32(unhex(t, v.ClientPrivate)[0]))
	if err != nil {
		t.Fatal(err)
	}
	server, err := ecdh.X25519().NewPrivateKey(run32(unhex(t, v.ServerPrivate)[0]))
	if err != nil {
		t.Fatal(err)
	}
	C, S := client.PublicKey().Bytes(), server.PublicKey().Bytes()
	if b64.EncodeToString(C) != v.ClientPublic || b64.EncodeToString(S) != v.ServerPublic {
		t.Fatalf("public keys %s, %s", b64.EncodeToString(C), b64.EncodeToString(S))
	}
	shared, _ := client.ECDH(server.PublicKey())
	if hex.EncodeToString(shared) != v.Shared {
		t.Fatalf("shared %x", shared)
	}
	key, _ := hkdf.Key(sha256.New, shared, append(bytes.Clone(S), C...), info, stream.KeySize)
	if hex.EncodeToString(key) != v.Key {
		t.Fatalf("key %x", key)
	}
	// The package's own derivation, on each side, seals as the vector's key.
	want, _ := stream.New(unhex(t, v.Key), stream.DefaultSegmentSize)
	sc, err := cipherFor(server, C, S, C)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := (&ClientKey{priv: client}).Cipher(S)
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte("Hello, XFTP!\n")
	w := want.Seal(nil, plain, 0, true)
	if !bytes.Equal(sc.Seal(nil, plain, 0, true), w) || !bytes.Equal(cc.Seal(nil, plain, 0, true), w) {
		t.Fatal("a side derives another key than the vector's")
	}
	id := ed25519.NewKeyFromSeed(run32(unhex(t, v.IdentitySeed)[0]))
	if sig := b64.EncodeToString(ed25519.Sign(id, KeyMessage(S, C))); sig != v.KeySignature {
		t.Fatalf("key signature %s", sig)
	}
	for _, n := range v.Negative {
		bad, _ := b64.DecodeString(n.ClientPublic)
		if _, err := cipherFor(server, bad, S, bad); err == nil {
			t.Errorf("client key %s accepted", n.ClientPublic)
		}
	}
}
