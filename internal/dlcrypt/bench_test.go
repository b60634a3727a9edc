package dlcrypt

import (
	"bytes"
	"crypto/rand"
	"io"
	"testing"

	"github.com/xftp/xftp/internal/stream"
)

// The download cipher: the per-request key exchange, and sealing (server)
// and opening (client) a 4 MiB chunk through the streaming readers, read
// with 256 KiB buffers as the HTTP handler does.

func BenchmarkServerCipher(b *testing.B) {
	ck, err := NewClientKey()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ServerCipher(ck.Public()); err != nil {
			b.Fatal(err)
		}
	}
}

func benchCiphers(b *testing.B) (server, client *stream.Cipher) {
	b.Helper()
	ck, err := NewClientKey()
	if err != nil {
		b.Fatal(err)
	}
	pub, sc, err := ServerCipher(ck.Public())
	if err != nil {
		b.Fatal(err)
	}
	cc, err := ck.Cipher(pub)
	if err != nil {
		b.Fatal(err)
	}
	return sc, cc
}

func readAll(b *testing.B, r io.Reader, buf []byte) int64 {
	var n int64
	for {
		m, err := r.Read(buf)
		n += int64(m)
		if err == io.EOF {
			return n
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSealingReader4MiB(b *testing.B) {
	sc, _ := benchCiphers(b)
	chunk := make([]byte, 4<<20)
	rand.Read(chunk)
	buf := make([]byte, 256<<10)
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	for b.Loop() {
		readAll(b, stream.NewSealingReader(sc, bytes.NewReader(chunk), int64(len(chunk))), buf)
	}
}

func BenchmarkOpeningReader4MiB(b *testing.B) {
	sc, cc := benchCiphers(b)
	chunk := make([]byte, 4<<20)
	rand.Read(chunk)
	buf := make([]byte, 256<<10)
	var sealed bytes.Buffer
	io.CopyBuffer(&sealed, stream.NewSealingReader(sc, bytes.NewReader(chunk), int64(len(chunk))), buf)
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	for b.Loop() {
		if n := readAll(b, stream.NewReader(cc, bytes.NewReader(sealed.Bytes())), buf); n != int64(len(chunk)) {
			b.Fatalf("opened %d bytes", n)
		}
	}
}
