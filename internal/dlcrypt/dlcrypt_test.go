package dlcrypt

import (
	"bytes"
	"io"
	"testing"

	"github.com/xftp/xftp/internal/stream"
)

func TestExchange(t *testing.T) {
	ck, err := NewClientKey()
	if err != nil {
		t.Fatal(err)
	}
	spub, sc, err := ServerCipher(ck.Public())
	if err != nil {
		t.Fatal(err)
	}
	plain := bytes.Repeat([]byte("chunk"), 50000)
	sealed, _ := io.ReadAll(stream.NewSealingReader(sc, bytes.NewReader(plain), int64(len(plain))))
	if bytes.Contains(sealed, []byte("chunkchunk")) {
		t.Fatal("sealed stream contains plaintext")
	}
	cc, err := ck.Cipher(spub)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(stream.NewReader(cc, bytes.NewReader(sealed)))
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("round trip failed: %v", err)
	}
	// A second download of the same chunk shares no bytes with the first.
	spub2, sc2, _ := ServerCipher(ck.Public())
	sealed2, _ := io.ReadAll(stream.NewSealingReader(sc2, bytes.NewReader(plain), int64(len(plain))))
	if bytes.Equal(spub, spub2) || bytes.Equal(sealed[:64], sealed2[:64]) {
		t.Fatal("two downloads produced related bytes")
	}
	if _, _, err := ServerCipher([]byte("short")); err == nil {
		t.Fatal("malformed client key accepted")
	}
}
