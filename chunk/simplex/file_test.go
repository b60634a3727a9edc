package simplex

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/nacl/secretbox"
	//lint:ignore SA1019 SimpleX streams XSalsa20-Poly1305 over whole files; no higher-level streaming API exists
	"golang.org/x/crypto/poly1305"
	//lint:ignore SA1019 the seekable keystream needs the block function and counter
	"golang.org/x/crypto/salsa20/salsa"
)

const vectors = "testdata/xftp-web"

// filler is the generator's deterministic file content (gen.mjs bytes()).
func filler(n int64, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*seed + seed>>3)
	}
	return b
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPlanVectors(t *testing.T) {
	f, err := os.Open(filepath.Join(vectors, "plan.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	n := 0
	for s.Scan() {
		line := s.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		p, sizes, _ := strings.Cut(line, ": ")
		payload, _ := strconv.ParseInt(p, 10, 64)
		var want []int64
		for _, f := range strings.Fields(sizes) {
			v, _ := strconv.ParseInt(f, 10, 64)
			want = append(want, v)
		}
		if got := PlanChunks(payload); !slices.Equal(got, want) {
			t.Errorf("PlanChunks(%d) = %v, xftp-web says %v", payload, got, want)
		}
		n++
	}
	if n < 20 {
		t.Fatalf("only %d plan vectors", n)
	}
	// The vectors.
	if got := PlanChunks(7 << 20); !slices.Equal(got, []int64{Size4M, Size1M, Size1M, Size1M}) {
		t.Errorf("7 MiB: %v", got)
	}
	if got := PlanChunks(1); !slices.Equal(got, []int64{Size64K}) {
		t.Errorf("1 byte: %v", got)
	}
	if got := PlanChunks(0); len(got) != 0 {
		t.Errorf("0 bytes: %v", got)
	}
}

type fileVector struct {
	Name         string
	Size         int64
	Seed         int
	Key, Nonce   string
	Header       string
	ChunkSizes   []int64
	EncSize      int64
	Digest       string
	ChunkDigests []string
	EncFile      string
}

func loadFileVectors(t *testing.T) []fileVector {
	b, err := os.ReadFile(filepath.Join(vectors, "files.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vs []fileVector
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatal(err)
	}
	return vs
}

// TestFileVectors checks both ways against xftp-web: our encryption makes
// its bytes, digests and chunk plan; our decryption opens its files.
func TestFileVectors(t *testing.T) {
	for i, v := range loadFileVectors(t) {
		t.Run(fmt.Sprintf("%d-%d", i, v.Size), func(t *testing.T) {
			var key Key
			var nonce Nonce
			copy(key[:], unhex(t, v.Key))
			copy(nonce[:], unhex(t, v.Nonce))
			h := Header{Name: v.Name}
			eh, _ := h.MarshalBinary()
			if !bytes.Equal(eh, unhex(t, v.Header)) {
				t.Fatalf("header %x, xftp-web %s", eh, v.Header)
			}
			src := filler(v.Size, v.Seed)
			s, err := NewSealer(key, nonce, h, bytes.NewReader(src), v.Size, false)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(s.ChunkSizes(), v.ChunkSizes) || s.EncryptedSize() != v.EncSize {
				t.Fatalf("plan %v (%d), xftp-web %v (%d)", s.ChunkSizes(), s.EncryptedSize(), v.ChunkSizes, v.EncSize)
			}
			if err := s.Seal(); err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(s.Digest()) != v.Digest {
				t.Fatalf("digest differs from xftp-web's")
			}
			for j, d := range v.ChunkDigests {
				if hex.EncodeToString(s.ChunkDigest(j)) != d {
					t.Fatalf("chunk %d digest differs from xftp-web's", j)
				}
			}
			var enc bytes.Buffer
			if _, err := s.WriteTo(&enc); err != nil {
				t.Fatal(err)
			}
			// ReadAt regenerates every chunk, and odd ranges, identically.
			for j := range v.ChunkSizes {
				p := make([]byte, v.ChunkSizes[j])
				if n, err := s.ReadAt(p, s.ChunkOffset(j)); n != len(p) || (err != nil && err != io.EOF) {
					t.Fatalf("ReadAt chunk %d: %d, %v", j, n, err)
				}
				if !bytes.Equal(p, enc.Bytes()[s.ChunkOffset(j):s.ChunkOffset(j)+v.ChunkSizes[j]]) {
					t.Fatalf("ReadAt chunk %d differs from WriteTo", j)
				}
			}
			for _, r := range [][2]int64{{0, 1}, {3, 100}, {31, 70}, {v.EncSize - 20, 20}, {v.EncSize - 16, 16}, {v.EncSize - 5, 5}, {int64(len(eh)) + 5, 129}} {
				p := make([]byte, r[1])
				if _, err := s.ReadAt(p, r[0]); err != nil && err != io.EOF {
					t.Fatal(err)
				}
				if !bytes.Equal(p, enc.Bytes()[r[0]:r[0]+r[1]]) {
					t.Fatalf("ReadAt(%d, %d) differs", r[0], r[1])
				}
			}
			theirs := enc.Bytes()
			if v.EncFile != "" {
				if theirs, err = os.ReadFile(filepath.Join(vectors, v.EncFile)); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(enc.Bytes(), theirs) {
					t.Fatalf("ciphertext differs from xftp-web's")
				}
			}
			var out bytes.Buffer
			got, err := Decrypt(&out, bytes.NewReader(theirs), v.EncSize, key, nonce)
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != v.Name || got.Extra != nil || !bytes.Equal(out.Bytes(), src) {
				t.Fatalf("decrypted %q, %d bytes; want %q, %d", got.Name, out.Len(), v.Name, len(src))
			}
		})
	}
}

func TestDecryptRejects(t *testing.T) {
	var key Key
	var nonce Nonce
	key[0], nonce[0] = 1, 2
	src := filler(100000, 5)
	s, err := NewSealer(key, nonce, Header{Name: "n.bin"}, bytes.NewReader(src), int64(len(src)), false)
	if err != nil {
		t.Fatal(err)
	}
	var enc bytes.Buffer
	s.WriteTo(&enc)
	good := enc.Bytes()
	size := int64(len(good))
	flip := func(i int) []byte { b := slices.Clone(good); b[i] ^= 1; return b }
	wrong := key
	wrong[5] ^= 0x80
	for _, c := range []struct {
		name string
		data []byte
		size int64
		key  Key
		want error
	}{
		{"byte in the length", flip(3), size, key, ErrAuth},
		{"byte in the name", flip(10), size, key, ErrAuth},
		{"byte in the file", flip(5000), size, key, ErrAuth},
		{"byte in the padding", flip(len(good) - 100), size, key, ErrAuth},
		{"byte in the tag", flip(len(good) - 1), size, key, ErrAuth},
		{"wrong key", good, size, wrong, ErrAuth},
		{"truncated", good[:len(good)-1], size, key, io.ErrUnexpectedEOF},
		{"tiny", good[:10], 10, key, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decrypt(io.Discard, bytes.NewReader(c.data), c.size, c.key, nonce)
			if err == nil || (c.want != nil && !errors.Is(err, c.want)) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

// sealPlaintext encrypts and authenticates plain as it stands, whatever
// its length and header say: what a sender that breaks the format sends.
func sealPlaintext(key Key, nonce Nonce, plain []byte) []byte {
	ks := newKeystream(&key, &nonce)
	pk := ks.polyKey()
	c := slices.Clone(plain)
	ks.xor(c, c)
	var tag [TagSize]byte
	mac := poly1305.New(&pk)
	mac.Write(c)
	mac.Sum(tag[:0])
	return append(c, tag[:]...)
}

// TestMalformedPlaintext: a well-authenticated file whose length or header
// is wrong fails with a clear error, not ErrAuth.
func TestMalformedPlaintext(t *testing.T) {
	var key Key
	var nonce Nonce
	body := make([]byte, Size64K-TagSize)
	for i := range body {
		body[i] = '#'
	}
	for _, c := range []struct {
		name  string
		plain func([]byte)
		want  string
	}{
		{"length past the end", func(b []byte) { b[0] = 0x7f }, "declares"},
		{"bad optional tag", func(b []byte) { copy(b, []byte{0, 0, 0, 0, 0, 0, 0, 10, 1, 'a', 'x'}) }, "optional-field"},
		{"header longer than length", func(b []byte) { copy(b, []byte{0, 0, 0, 0, 0, 0, 0, 2, 5, 'a'}) }, "truncated"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := slices.Clone(body)
			c.plain(p)
			_, err := Decrypt(io.Discard, bytes.NewReader(sealPlaintext(key, nonce, p)), Size64K, key, nonce)
			if err == nil || errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one saying %q", err, c.want)
			}
		})
	}
}

// TestKeystreamIsSecretbox pins the cipher to NaCl's secretbox under
// HSalsa20(key, 0), at every alignment.
func TestKeystreamIsSecretbox(t *testing.T) {
	var key Key
	var nonce Nonce
	for i := range key {
		key[i] = byte(i * 3)
	}
	for i := range nonce {
		nonce[i] = byte(i * 5)
	}
	var k1 [32]byte
	var zero [16]byte
	k := [32]byte(key)
	salsa.HSalsa20(&k1, &zero, &k, &salsa.Sigma)
	msg := filler(1000, 3)
	n := [24]byte(nonce)
	want := secretbox.Seal(nil, msg, &n, &k1) // tag || ciphertext
	for _, split := range []int{0, 1, 31, 32, 33, 63, 64, 65, 500, 999} {
		ks := newKeystream(&key, &nonce)
		ks.polyKey()
		got := slices.Clone(msg)
		ks.xor(got[:split], got[:split])
		ks.xor(got[split:], got[split:])
		if !bytes.Equal(got, want[16:]) {
			t.Fatalf("split %d: ciphertext differs from secretbox", split)
		}
		for _, off := range []int64{0, 1, 31, 32, 64, 100, 999} {
			ks := newKeystream(&key, &nonce)
			ks.seek(off)
			p := slices.Clone(msg[off:])
			ks.xor(p, p)
			if !bytes.Equal(p, want[16+off:]) {
				t.Fatalf("seek %d: differs", off)
			}
		}
	}
}

func TestNames(t *testing.T) {
	long := strings.Repeat("я", 200) // 400 bytes
	n := TruncateName(long)
	if len(n) > MaxNameLen || !strings.HasPrefix(long, n) || len(n) != 254 {
		t.Fatalf("TruncateName: %d bytes", len(n))
	}
	if _, err := (Header{Name: long}).MarshalBinary(); err == nil {
		t.Fatal("a 400-byte name encoded")
	}
	x := "extra"
	b, _ := Header{Name: "a", Extra: &x}.MarshalBinary()
	h, n2, err := parseHeader(b)
	if err != nil || n2 != len(b) || h.Name != "a" || h.Extra == nil || *h.Extra != x {
		t.Fatalf("extra round trip: %+v %d %v", h, n2, err)
	}
}

// TestStreamingMemory: sealing and opening a large file allocate a bounded
// amount, not the file.
func TestStreamingMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: large file")
	}
	const size = 64 << 20
	var key Key
	var nonce Nonce
	src := zeroReaderAt{size}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	func() {
		s, err := NewSealer(key, nonce, Header{Name: "big"}, src, size, false)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Seal(); err != nil {
			t.Fatal(err)
		}
		pr, pw := io.Pipe()
		go func() { _, err := s.WriteTo(pw); pw.CloseWithError(err) }()
		if _, err := Decrypt(io.Discard, pr, s.EncryptedSize(), key, nonce); err != nil {
			t.Fatal(err)
		}
	}()
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 4<<20 {
		t.Fatalf("allocated %d bytes to seal, write and decrypt a %d-byte file", n, size)
	}
}

type zeroReaderAt struct{ n int64 }

func (z zeroReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= z.n {
		return 0, io.EOF
	}
	n := min(int64(len(p)), z.n-off)
	clear(p[:n])
	if n < int64(len(p)) {
		return int(n), io.EOF
	}
	return int(n), nil
}
