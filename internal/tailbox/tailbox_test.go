package tailbox

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"golang.org/x/crypto/nacl/secretbox"
)

// secretboxTail is the reference: x/crypto's in-memory secretbox with the
// tag moved to the end.
func secretboxTail(key *[32]byte, nonce *[24]byte, msg []byte) []byte {
	s := secretbox.Seal(nil, msg, nonce, key)
	return append(s[secretbox.Overhead:], s[:secretbox.Overhead]...)
}

func TestMatchesSecretbox(t *testing.T) {
	var key [32]byte
	var nonce [24]byte
	rand.Read(key[:])
	rand.Read(nonce[:])
	for _, n := range []int{0, 1, 31, 32, 33, 63, 64, 65, 95, 96, 97, 127, 128, 1000, 65536, 65536 + 7, 1 << 20} {
		msg := make([]byte, n)
		rand.Read(msg)
		want := secretboxTail(&key, &nonce, msg)
		for _, wrap := range []func(io.Reader) io.Reader{
			func(r io.Reader) io.Reader { return r }, iotest.OneByteReader, iotest.HalfReader,
		} {
			got, err := io.ReadAll(wrap(NewSealer(&key, &nonce, wrap(bytes.NewReader(msg)), int64(n))))
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("size %d: sealed stream differs from secretbox (err %v)", n, err)
			}
			plain, err := io.ReadAll(wrap(NewOpener(&key, &nonce, wrap(bytes.NewReader(want)), int64(n))))
			if err != nil || !bytes.Equal(plain, msg) {
				t.Fatalf("size %d: open failed: %v", n, err)
			}
		}
	}
}

func TestOpenRefusesTampering(t *testing.T) {
	var key [32]byte
	var nonce [24]byte
	msg := bytes.Repeat([]byte("x"), 1000)
	sealed := secretboxTail(&key, &nonce, msg)
	for _, i := range []int{0, 500, len(sealed) - 1} {
		bad := bytes.Clone(sealed)
		bad[i] ^= 1
		if _, err := io.ReadAll(NewOpener(&key, &nonce, bytes.NewReader(bad), int64(len(msg)))); !errors.Is(err, ErrAuth) {
			t.Errorf("flipped byte %d: err %v, want ErrAuth", i, err)
		}
	}
	if _, err := io.ReadAll(NewOpener(&key, &nonce, bytes.NewReader(sealed[:len(sealed)-1]), int64(len(msg)))); !errors.Is(err, ErrAuth) {
		t.Errorf("truncated tag: err %v, want ErrAuth", err)
	}
	if _, err := io.ReadAll(NewSealer(&key, &nonce, bytes.NewReader(msg[:10]), int64(len(msg)))); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short source: err %v, want ErrUnexpectedEOF", err)
	}
}

func BenchmarkSeal4MiB(b *testing.B) {
	var key [32]byte
	var nonce [24]byte
	msg := make([]byte, 4<<20)
	b.SetBytes(int64(len(msg)))
	buf := make([]byte, 256<<10)
	for b.Loop() {
		r := NewSealer(&key, &nonce, bytes.NewReader(msg), int64(len(msg)))
		for {
			if _, err := r.Read(buf); err != nil {
				break
			}
		}
	}
}

func BenchmarkSecretbox4MiB(b *testing.B) {
	var key [32]byte
	var nonce [24]byte
	msg := make([]byte, 4<<20)
	out := make([]byte, 0, len(msg)+16)
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		secretbox.Seal(out[:0], msg, &nonce, &key)
	}
}
