package stream

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func seal(t testing.TB, c *Cipher, plain []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(c, &buf)
	// Write in odd pieces to exercise buffering.
	for p := plain; len(p) > 0; {
		n := min(len(p), 1000)
		if _, err := w.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTripBoundaries(t *testing.T) {
	key := make([]byte, KeySize)
	rand.Read(key)
	const seg = 4096
	c, err := New(key, seg)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 1, seg - 1, seg, seg + 1, 2*seg + 500, 3 * seg} {
		plain := make([]byte, n)
		rand.Read(plain)
		ct := seal(t, c, plain)
		if int64(len(ct)) != c.CiphertextSize(int64(n)) {
			t.Fatalf("n=%d: ciphertext %d bytes, CiphertextSize says %d", n, len(ct), c.CiphertextSize(int64(n)))
		}
		got, err := io.ReadAll(NewReader(c, bytes.NewReader(ct)))
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if !bytes.Equal(got, plain) {
			t.Fatalf("n=%d: plaintext differs", n)
		}
	}
}

func TestTamper(t *testing.T) {
	key := make([]byte, KeySize)
	rand.Read(key)
	const seg = 1024
	c, _ := New(key, seg)
	plain := make([]byte, 3*seg)
	rand.Read(plain)
	ct := seal(t, c, plain)
	sealed := c.SealedSize()
	cases := map[string][]byte{
		"flipped byte":      flip(ct, 10),
		"flipped tag":       flip(ct, len(ct)-1),
		"truncated segment": ct[:2*sealed],
		"truncated byte":    ct[:len(ct)-1],
		"empty":             nil,
		"swapped segments":  append(append(append([]byte{}, ct[sealed:2*sealed]...), ct[:sealed]...), ct[2*sealed:]...),
		"extra byte":        append(append([]byte{}, ct...), 0),
		"appended segment":  append(append([]byte{}, ct...), ct[:sealed]...),
	}
	for name, bad := range cases {
		_, err := io.ReadAll(NewReader(c, bytes.NewReader(bad)))
		if !errors.Is(err, ErrAuth) {
			t.Errorf("%s: got %v, want ErrAuth", name, err)
		}
	}
	other := make([]byte, KeySize)
	c2, _ := New(other, seg)
	if _, err := io.ReadAll(NewReader(c2, bytes.NewReader(ct))); !errors.Is(err, ErrAuth) {
		t.Errorf("wrong key: got %v", err)
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte{}, b...)
	c[i] ^= 1
	return c
}

func BenchmarkSeal4MiB(b *testing.B) {
	key := make([]byte, KeySize)
	c, _ := New(key, DefaultSegmentSize)
	buf := make([]byte, 4<<20)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		w := NewWriter(c, io.Discard)
		w.Write(buf)
		w.Close()
	}
}

func BenchmarkOpen4MiB(b *testing.B) {
	key := make([]byte, KeySize)
	c, _ := New(key, DefaultSegmentSize)
	ct := seal(b, c, make([]byte, 4<<20))
	b.SetBytes(4 << 20)
	buf := make([]byte, 256<<10)
	for b.Loop() {
		r := NewReader(c, bytes.NewReader(ct))
		io.CopyBuffer(io.Discard, r, buf)
	}
}

func TestSealingReaderMatchesWriter(t *testing.T) {
	key := make([]byte, KeySize)
	rand.Read(key)
	c, _ := New(key, 4096)
	for _, n := range []int{0, 1, 4095, 4096, 4097, 3*4096 + 7} {
		plain := make([]byte, n)
		rand.Read(plain)
		got, err := io.ReadAll(NewSealingReader(c, bytes.NewReader(plain), int64(n)))
		if err != nil {
			t.Fatal(err)
		}
		if want := seal(t, c, plain); !bytes.Equal(got, want) {
			t.Fatalf("n=%d: SealingReader output differs from Writer", n)
		}
	}
	if _, err := io.ReadAll(NewSealingReader(c, bytes.NewReader(make([]byte, 10)), 11)); err == nil {
		t.Fatal("short source accepted")
	}
	r := NewSealingReader(c, bytes.NewReader(make([]byte, 5000)), 5000)
	boom := errors.New("boom")
	r.Check = func() error { return boom }
	if _, err := io.ReadAll(r); !errors.Is(err, boom) {
		t.Fatalf("Check error not returned: %v", err)
	}
}

// TestSealingReaderReadSizes reads with buffers smaller than, equal to and
// larger than a sealed segment (several segments per Read).
func TestSealingReaderReadSizes(t *testing.T) {
	key := make([]byte, KeySize)
	rand.Read(key)
	c, _ := New(key, 4096)
	sealed := c.SealedSize()
	for _, n := range []int{0, 1, 4095, 4096, 4097, 3*4096 + 7, 8 * 4096} {
		plain := make([]byte, n)
		rand.Read(plain)
		want := seal(t, c, plain)
		for _, bufSize := range []int{1, 15, 16, 17, sealed - 1, sealed, sealed + 1, 2*sealed + 5, 4 * sealed, 64 * sealed} {
			r := NewSealingReader(c, bytes.NewReader(plain), int64(n))
			var got []byte
			buf := make([]byte, bufSize)
			for {
				k, err := r.Read(buf)
				got = append(got, buf[:k]...)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("n=%d buf=%d: %v", n, bufSize, err)
				}
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("n=%d buf=%d: output differs from Writer", n, bufSize)
			}
		}
		if err := iotest.TestReader(NewSealingReader(c, bytes.NewReader(plain), int64(n)), want); err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
	}
}

// TestSealingReaderCheckWithLargeReads checks that a failing Check keeps
// the last segment from being produced when a Read takes several segments.
func TestSealingReaderCheckWithLargeReads(t *testing.T) {
	key := make([]byte, KeySize)
	c, _ := New(key, 4096)
	const n = 3*4096 + 100
	boom := errors.New("boom")
	r := NewSealingReader(c, bytes.NewReader(make([]byte, n)), n)
	r.Check = func() error { return boom }
	got, err := io.ReadAll(r)
	if !errors.Is(err, boom) {
		t.Fatalf("Check error not returned: %v", err)
	}
	if len(got) != 3*c.SealedSize() {
		t.Fatalf("got %d bytes before the error, want the %d of the segments before the last", len(got), 3*c.SealedSize())
	}
	if _, err := r.Read(make([]byte, 1<<20)); !errors.Is(err, boom) {
		t.Fatalf("Read after failure: %v", err)
	}
}

func BenchmarkSealingReader4MiB(b *testing.B) {
	key := make([]byte, KeySize)
	c, _ := New(key, DefaultSegmentSize)
	plain := make([]byte, 4<<20)
	buf := make([]byte, 256<<10)
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	for b.Loop() {
		io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{NewSealingReader(c, bytes.NewReader(plain), int64(len(plain)))}, buf)
	}
}
