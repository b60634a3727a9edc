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
	"io"
	"os"
	"strings"
	"testing"

	"github.com/xftp/xftp/chunk"
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
// testdata/download-key.json, made by testdata/gen/gen.mjs with node:crypto
// from docs/PROTOCOL.md (§13.4, which must show the same values): both
// sides derive the vector's key, the identity's signature over the keys is
// the vector's, the worked example's chunk sealed for download is the
// vector's stream, byte for byte, and bad client keys are refused.
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
		Chunk         struct {
			Size        int
			FirstBytes  string `json:"first_bytes"`
			Tag, Digest string
		}
		Download struct {
			Size       int64
			FirstBytes string `json:"first_bytes"`
			SHA256     string
		}
		Negative []struct {
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
	for _, s := range []string{v.ClientPublic, v.ServerPublic, v.KeySignature, v.Shared, v.Key,
		v.Chunk.FirstBytes, v.Chunk.Tag, v.Chunk.Digest, v.Download.FirstBytes, v.Download.SHA256} {
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
	gotS, sc, err := serverCipher(server, C)
	if err != nil || !bytes.Equal(gotS, S) {
		t.Fatalf("server key %x, %v", gotS, err)
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

	// The worked example's chunk, made by package chunk, is the vector's.
	src := strings.NewReader("Hello, XFTP!\n")
	sl, err := chunk.NewSealer(run32(0x80), "hello.txt", src, src.Size())
	if err != nil {
		t.Fatal(err)
	}
	ch, err := io.ReadAll(sl.Chunk(0))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(ch)
	if len(ch) != v.Chunk.Size || hex.EncodeToString(ch[:24]) != v.Chunk.FirstBytes ||
		hex.EncodeToString(ch[len(ch)-16:]) != v.Chunk.Tag || b64.EncodeToString(sum[:]) != v.Chunk.Digest {
		t.Fatalf("chunk %d bytes, %x…%x, digest %s", len(ch), ch[:24], ch[len(ch)-16:], b64.EncodeToString(sum[:]))
	}
	// Sealed for download as the server does, it is the vector's stream.
	var sealed bytes.Buffer
	if _, err := io.Copy(&sealed, stream.NewSealingReader(sc, bytes.NewReader(ch), int64(len(ch)))); err != nil {
		t.Fatal(err)
	}
	ssum := sha256.Sum256(sealed.Bytes())
	if int64(sealed.Len()) != v.Download.Size || sc.CiphertextSize(int64(len(ch))) != v.Download.Size ||
		hex.EncodeToString(sealed.Bytes()[:16]) != v.Download.FirstBytes || hex.EncodeToString(ssum[:]) != v.Download.SHA256 {
		t.Fatalf("download stream %d bytes, %x…, sha256 %x", sealed.Len(), sealed.Bytes()[:16], ssum)
	}
	opened, err := io.ReadAll(stream.NewReader(cc, &sealed))
	if err != nil || !bytes.Equal(opened, ch) {
		t.Fatalf("the client does not open the vector's stream: %v", err)
	}

	for _, n := range v.Negative {
		bad, _ := b64.DecodeString(n.ClientPublic)
		if _, _, err := serverCipher(server, bad); err == nil {
			t.Errorf("client key %s accepted", n.ClientPublic)
		}
	}
}
