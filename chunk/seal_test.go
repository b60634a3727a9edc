package chunk

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/xftp/xftp/internal/stream"
)

// memFile is an in-memory io.WriterAt.
type memFile struct {
	mu sync.Mutex
	b  []byte
}

func (m *memFile) WriteAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if end := int(off) + len(p); end > len(m.b) {
		m.b = append(m.b, make([]byte, end-len(m.b))...)
	}
	copy(m.b[off:], p)
	return len(p), nil
}

// testData returns n deterministic pseudo-random bytes.
func testData(seed uint64, n int64) []byte {
	var s [32]byte
	binary.BigEndian.PutUint64(s[:], seed)
	b := make([]byte, n)
	rand.NewChaCha8(s).Read(b)
	return b
}

func testKey(seed byte) []byte {
	k := make([]byte, KeySize)
	for i := range k {
		k[i] = seed + byte(i)
	}
	return k
}

// wantPlan is the padding rule of the package documentation, computed
// independently of the code under test.
func wantPlan(size int64) []int64 {
	plain := HeaderSize + size
	segments := (plain + 65519) / 65520
	return Plan(segments * 65536)
}

// readChunks reads every chunk of s.
func readChunks(t testing.TB, s *Sealer) [][]byte {
	t.Helper()
	var chunks [][]byte
	for i := range s.ChunkSizes() {
		b, err := io.ReadAll(s.Chunk(i))
		if err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		chunks = append(chunks, b)
	}
	return chunks
}

// checkLayout decrypts the concatenated chunks with the plain STREAM reader
// and checks the layout documented in doc.go byte by byte.
func checkLayout(t *testing.T, key []byte, chunks [][]byte, name string, data []byte) {
	t.Helper()
	c, err := stream.New(key, stream.DefaultSegmentSize)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(stream.NewReader(c, bytes.NewReader(bytes.Join(chunks, nil))))
	if err != nil {
		t.Fatalf("STREAM reader: %v", err)
	}
	var total int
	for _, ch := range chunks {
		total += len(ch)
	}
	if want := total / 65536 * 65520; len(plain) != want {
		t.Fatalf("plaintext is %d bytes, want %d", len(plain), want)
	}
	hdr := make([]byte, 512)
	hdr[0] = 1
	binary.BigEndian.PutUint64(hdr[1:], uint64(len(data)))
	binary.BigEndian.PutUint16(hdr[9:], uint16(len(name)))
	copy(hdr[11:], name)
	if !bytes.Equal(plain[:512], hdr) {
		t.Fatalf("header = %x, want %x", plain[:32], hdr[:32])
	}
	if !bytes.Equal(plain[512:512+len(data)], data) {
		t.Fatal("file bytes differ")
	}
	if bytes.ContainsFunc(plain[512+len(data):], func(r rune) bool { return r != 0 }) {
		t.Fatal("padding is not zero")
	}
}

func TestRoundTrip(t *testing.T) {
	var sizes []int64
	sizes = append(sizes, 0, 1, 7<<20)
	// Each chunk size -1/0/+1.
	for _, c := range DefaultSizes() {
		sizes = append(sizes, c-1, c, c+1)
	}
	// File sizes whose padded payload crosses a segment count that is a
	// boundary of the plan: 1 segment, 64 KiB, 192 KiB, 256 KiB, 768 KiB,
	// 1 MiB, 3 MiB, 4 MiB, 7 MiB of ciphertext.
	for _, segs := range []int64{1, 3, 4, 12, 16, 48, 64, 112} {
		at := segs*SegmentSize - HeaderSize
		sizes = append(sizes, at-1, at, at+1)
	}
	key := testKey(1)
	for _, size := range sizes {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			data := testData(uint64(size), size)
			s, err := NewSealer(key, "dir/report.pdf", bytes.NewReader(data), size)
			if err != nil {
				t.Fatal(err)
			}
			plan := s.ChunkSizes()
			if want := wantPlan(size); !slices.Equal(plan, want) {
				t.Fatalf("ChunkSizes() = %v, want %v", plan, want)
			}
			chunks := readChunks(t, s)
			digests, err := s.Digests(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for i, ch := range chunks {
				if int64(len(ch)) != plan[i] {
					t.Fatalf("chunk %d is %d bytes, want %d", i, len(ch), plan[i])
				}
				if sha256.Sum256(ch) != digests[i] {
					t.Fatalf("chunk %d digest differs from Digests()", i)
				}
			}
			// Deterministic: the last chunk again, read in odd pieces.
			last := len(chunks) - 1
			again, err := io.ReadAll(io.LimitReader(s.Chunk(last), 1<<30))
			if err != nil || !bytes.Equal(again, chunks[last]) {
				t.Fatalf("chunk %d differs on a second read (err %v)", last, err)
			}
			checkLayout(t, key, chunks, "report.pdf", data)

			var out memFile
			o, err := NewOpener(key, plan, &out)
			if err != nil {
				t.Fatal(err)
			}
			for i, ch := range chunks {
				if err := o.OpenChunk(i, digests[i], bytes.NewReader(ch)); err != nil {
					t.Fatalf("OpenChunk(%d): %v", i, err)
				}
			}
			h, err := o.Header()
			if err != nil {
				t.Fatal(err)
			}
			if h != (Header{Name: "report.pdf", Size: size}) {
				t.Fatalf("Header() = %+v", h)
			}
			// Chunk 0 came first, so nothing was written past the file.
			if !bytes.Equal(out.b, data) {
				t.Fatalf("opened %d bytes, want %d equal bytes", len(out.b), len(data))
			}
		})
	}
}

// TestOpenAnyOrder opens the chunks concurrently, in a random order, into
// a real file, with chunk 0 both first and last.
func TestOpenAnyOrder(t *testing.T) {
	const size = 9<<20 + 12345 // 4 MiB, 4 MiB, 1 MiB, 64 KiB...
	data := testData(7, size)
	key := testKey(9)
	s, err := NewSealer(key, "x", bytes.NewReader(data), size)
	if err != nil {
		t.Fatal(err)
	}
	chunks := readChunks(t, s)
	digests, err := s.Digests(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) < 3 {
		t.Fatalf("only %d chunks", len(chunks))
	}
	for _, zeroLast := range []bool{false, true} {
		t.Run(fmt.Sprint("chunk0last=", zeroLast), func(t *testing.T) {
			f, err := os.Create(filepath.Join(t.TempDir(), "out"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			o, err := NewOpener(key, s.ChunkSizes(), f)
			if err != nil {
				t.Fatal(err)
			}
			order := rand.Perm(len(chunks))
			if zeroLast {
				order = slices.DeleteFunc(order, func(i int) bool { return i == 0 })
			}
			var wg sync.WaitGroup
			errs := make([]error, len(chunks))
			for _, i := range order {
				wg.Go(func() { errs[i] = o.OpenChunk(i, digests[i], bytes.NewReader(chunks[i])) })
			}
			wg.Wait()
			if zeroLast {
				if _, err := o.Header(); err == nil {
					t.Fatal("Header() known before chunk 0 was opened")
				}
				errs[0] = o.OpenChunk(0, digests[0], bytes.NewReader(chunks[0]))
			}
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			h, err := o.Header()
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Truncate(h.Size); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(f.Name())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Fatal("output differs")
			}
		})
	}
}

// TestLargeFile round-trips ~100 MiB through temporary files without
// holding the file in memory.
func TestLargeFile(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: 100 MiB round trip")
	}
	const size = 100<<20 + 54321
	dir := t.TempDir()
	in, err := os.Create(filepath.Join(dir, "in"))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if _, err := io.CopyN(in, rand.NewChaCha8([32]byte{42}), size); err != nil {
		t.Fatal(err)
	}
	key, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSealer(key, in.Name(), in, size)
	if err != nil {
		t.Fatal(err)
	}
	plan := s.ChunkSizes()
	if want := wantPlan(size); !slices.Equal(plan, want) {
		t.Fatalf("ChunkSizes() = %v, want %v", plan, want)
	}
	digests, err := s.Digests(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	o, err := NewOpener(key, plan, out)
	if err != nil {
		t.Fatal(err)
	}
	// Four workers, chunks in reverse order, each streamed from the Sealer.
	work := make(chan int)
	errs := make(chan error, len(plan))
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range work {
				errs <- o.OpenChunk(i, digests[i], s.Chunk(i))
			}
		})
	}
	for i := len(plan) - 1; i >= 0; i-- {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	h, err := o.Header()
	if err != nil {
		t.Fatal(err)
	}
	if h.Name != "in" || h.Size != size {
		t.Fatalf("Header() = %+v", h)
	}
	if err := out.Truncate(h.Size); err != nil {
		t.Fatal(err)
	}
	if a, b := fileDigest(t, in), fileDigest(t, out); a != b {
		t.Fatal("output differs from input")
	}
}

func fileDigest(t *testing.T, f *os.File) [32]byte {
	t.Helper()
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, 1<<62)); err != nil {
		t.Fatal(err)
	}
	return [32]byte(h.Sum(nil))
}

// boundedReaderAt records the largest read.
type boundedReaderAt struct {
	r   io.ReaderAt
	mu  sync.Mutex
	max int
}

func (b *boundedReaderAt) ReadAt(p []byte, off int64) (int, error) {
	b.mu.Lock()
	b.max = max(b.max, len(p))
	b.mu.Unlock()
	return b.r.ReadAt(p, off)
}

func TestSealerReadsOneSegmentAtATime(t *testing.T) {
	const size = 5 << 20
	src := &boundedReaderAt{r: bytes.NewReader(testData(3, size))}
	s, err := NewSealer(testKey(0), "a", src, size)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, s.Chunk(0)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Digests(context.Background()); err != nil {
		t.Fatal(err)
	}
	if src.max == 0 || src.max > SegmentSize {
		t.Fatalf("largest read was %d bytes, want 1..%d", src.max, SegmentSize)
	}
}

func TestSealerErrors(t *testing.T) {
	src := bytes.NewReader(nil)
	for _, tc := range []struct {
		name string
		key  []byte
		file string
		size int64
	}{
		{"short key", make([]byte, 31), "a", 0},
		{"long key", make([]byte, 33), "a", 0},
		{"empty name", testKey(0), "", 0},
		{"dot", testKey(0), ".", 0},
		{"dot dot", testKey(0), "a/..", 0},
		{"root", testKey(0), "/", 0},
		{"backslash", testKey(0), `a\b`, 0},
		{"NUL", testKey(0), "a\x00b", 0},
		{"bad UTF-8", testKey(0), "a\xffb", 0},
		{"long name", testKey(0), string(bytes.Repeat([]byte("é"), 128)), 0},
		{"negative size", testKey(0), "a", -1},
		{"huge size", testKey(0), "a", 1 << 62},
		{"too many chunks", testKey(0), "a", MaxChunks*Size4M + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewSealer(tc.key, tc.file, src, tc.size); err == nil {
				t.Fatal("NewSealer succeeded")
			}
		})
	}
	// Names that are reduced to a valid base name.
	for _, tc := range []struct{ in, want string }{
		{"a/b/c.txt", "c.txt"},
		{"/tmp/x/", "x"},
		{string(bytes.Repeat([]byte("é"), 127)) + "a", string(bytes.Repeat([]byte("é"), 127)) + "a"},
	} {
		s, err := NewSealer(testKey(0), tc.in, src, 0)
		if err != nil {
			t.Fatalf("NewSealer(%q): %v", tc.in, err)
		}
		b, _ := io.ReadAll(s.Chunk(0))
		var out memFile
		o, _ := NewOpener(testKey(0), s.ChunkSizes(), &out)
		if err := o.OpenChunk(0, sha256.Sum256(b), bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
		if h, _ := o.Header(); h.Name != tc.want {
			t.Fatalf("name %q became %q, want %q", tc.in, h.Name, tc.want)
		}
	}
}

func TestSealerShortSource(t *testing.T) {
	s, err := NewSealer(testKey(0), "a", bytes.NewReader(make([]byte, 1000)), 200000)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(s.Chunk(0)); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Chunk(0): %v, want io.ErrUnexpectedEOF", err)
	}
	if _, err := s.Digests(context.Background()); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Digests: %v, want io.ErrUnexpectedEOF", err)
	}
	for _, i := range []int{-1, len(s.ChunkSizes())} {
		if _, err := io.ReadAll(s.Chunk(i)); err == nil {
			t.Fatalf("Chunk(%d) read without error", i)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Digests(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Digests with canceled context: %v", err)
	}
}

func TestNewOpenerErrors(t *testing.T) {
	for _, sizes := range [][]int64{nil, {0}, {-65536}, {65535}, {65536 + 1}, {8 << 20}, {65536, 100}} {
		if _, err := NewOpener(testKey(0), sizes, &memFile{}); !errors.Is(err, ErrSize) {
			t.Errorf("NewOpener(%v): %v, want ErrSize", sizes, err)
		}
	}
	if _, err := NewOpener(make([]byte, 16), []int64{65536}, &memFile{}); err == nil {
		t.Error("NewOpener accepted a 16-byte key")
	}
}

func flip(b []byte, i int) []byte {
	b = bytes.Clone(b)
	b[i] ^= 0x01
	return b
}

func TestTamper(t *testing.T) {
	const size = 112*SegmentSize - HeaderSize // chunks 4 MiB, 1 MiB, 1 MiB, 1 MiB
	key := testKey(5)
	s, err := NewSealer(key, "t", bytes.NewReader(testData(5, size)), size)
	if err != nil {
		t.Fatal(err)
	}
	chunks := readChunks(t, s)
	digests, err := s.Digests(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	plan := s.ChunkSizes()
	rehash := func(b []byte) [32]byte { return sha256.Sum256(b) }
	for _, tc := range []struct {
		name   string
		key    []byte
		sizes  []int64
		i      int
		data   []byte
		digest [32]byte
		want   error
	}{
		{"ok", key, plan, 2, chunks[2], digests[2], nil},
		{"flipped byte", key, plan, 2, flip(chunks[2], 70000), digests[2], ErrDigest},
		{"flipped byte, digest of the damage", key, plan, 2, flip(chunks[2], 70000), rehash(flip(chunks[2], 70000)), ErrAuth},
		{"flipped header byte", key, plan, 0, flip(chunks[0], 3), rehash(flip(chunks[0], 3)), ErrAuth},
		{"flipped tag of the last segment", key, plan, 3, flip(chunks[3], len(chunks[3])-1), rehash(flip(chunks[3], len(chunks[3])-1)), ErrAuth},
		{"truncated", key, plan, 1, chunks[1][:len(chunks[1])-1], digests[1], ErrSize},
		{"truncated to a segment", key, plan, 1, chunks[1][:65536], digests[1], ErrSize},
		{"empty", key, plan, 1, nil, digests[1], ErrSize},
		{"extended", key, plan, 1, append(bytes.Clone(chunks[1]), 0), digests[1], ErrSize},
		{"wrong digest", key, plan, 1, chunks[1], digests[2], ErrDigest},
		{"swapped chunks", key, plan, 2, chunks[1], digests[1], ErrAuth},
		{"wrong key", testKey(6), plan, 0, chunks[0], digests[0], ErrAuth},
		{"last chunk not last", key, append(slices.Clone(plan), Size64K), 3, chunks[3], digests[3], ErrAuth},
		{"sizes not the plan", key, append(slices.Clone(plan), Size64K), 0, chunks[0], digests[0], ErrHeader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := NewOpener(tc.key, tc.sizes, &memFile{})
			if err != nil {
				t.Fatal(err)
			}
			err = o.OpenChunk(tc.i, tc.digest, bytes.NewReader(tc.data))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("OpenChunk: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("OpenChunk: %v, want %v", err, tc.want)
			}
			if errors.Is(tc.want, ErrAuth) && !errors.Is(err, stream.ErrAuth) {
				t.Fatalf("OpenChunk: %v does not wrap stream.ErrAuth", err)
			}
			if tc.i == 0 {
				if _, err := o.Header(); err == nil {
					t.Fatal("Header() known after chunk 0 failed")
				}
			}
		})
	}
	o, _ := NewOpener(key, plan, &memFile{})
	if err := o.OpenChunk(len(plan), [32]byte{}, bytes.NewReader(nil)); err == nil {
		t.Fatal("OpenChunk accepted an index out of range")
	}
}

// sealPlain seals plain (a whole number of segments) with the STREAM
// writer and cuts it into chunks, bypassing the Sealer, to build files a
// Sealer would never produce.
func sealPlain(t *testing.T, key, plain []byte, sizes []int64) [][]byte {
	t.Helper()
	c, err := stream.New(key, stream.DefaultSegmentSize)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := stream.NewWriter(c, &buf)
	w.Write(plain)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var chunks [][]byte
	for _, sz := range sizes {
		chunks = append(chunks, buf.Next(int(sz)))
	}
	if buf.Len() != 0 {
		t.Fatalf("%d bytes left over", buf.Len())
	}
	return chunks
}

func TestBadHeader(t *testing.T) {
	key := testKey(2)
	header := func(version byte, size uint64, nameLen uint16, name string) []byte {
		h := make([]byte, HeaderSize)
		h[0] = version
		binary.BigEndian.PutUint64(h[1:], size)
		binary.BigEndian.PutUint16(h[9:], nameLen)
		copy(h[11:], name)
		return h
	}
	trailing := header(1, 10, 1, "a")
	trailing[HeaderSize-1] = 1
	for _, tc := range []struct {
		name   string
		header []byte
		sizes  []int64
		want   error
	}{
		{"valid", header(1, 10, 1, "a"), []int64{Size64K}, nil},
		{"valid, two chunks", header(1, 65520, 1, "a"), []int64{Size64K, Size64K}, nil},
		{"version 0", header(0, 10, 1, "a"), []int64{Size64K}, ErrHeader},
		{"version 2", header(2, 10, 1, "a"), []int64{Size64K}, ErrHeader},
		{"size beyond capacity", header(1, 65520-HeaderSize+1, 1, "a"), []int64{Size64K}, ErrHeader},
		{"huge size", header(1, 1<<63, 1, "a"), []int64{Size64K}, ErrHeader},
		{"size of another plan", header(1, 10, 1, "a"), []int64{Size64K * 2}, ErrHeader},
		{"empty name", header(1, 10, 0, ""), []int64{Size64K}, ErrHeader},
		{"name too long", header(1, 10, 256, string(bytes.Repeat([]byte("a"), 256))), []int64{Size64K}, ErrHeader},
		{"slash", header(1, 10, 3, "a/b"), []int64{Size64K}, ErrHeader},
		{"dot dot", header(1, 10, 2, ".."), []int64{Size64K}, ErrHeader},
		{"NUL", header(1, 10, 3, "a\x00b"), []int64{Size64K}, ErrHeader},
		{"bad UTF-8", header(1, 10, 1, "\xff"), []int64{Size64K}, ErrHeader},
		{"non-zero after name", trailing, []int64{Size64K}, ErrHeader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var total int64
			for _, s := range tc.sizes {
				total += s
			}
			plain := make([]byte, total/SealedSegmentSize*SegmentSize)
			copy(plain, tc.header)
			chunks := sealPlain(t, key, plain, tc.sizes)
			o, err := NewOpener(key, tc.sizes, &memFile{})
			if err != nil {
				t.Fatal(err)
			}
			err = o.OpenChunk(0, sha256.Sum256(chunks[0]), bytes.NewReader(chunks[0]))
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("OpenChunk: %v, want %v", err, tc.want)
			}
		})
	}
}

// TestSealVectors pins the encryption format: the chunk digests of known
// files under a known key.
func TestSealVectors(t *testing.T) {
	b, err := os.ReadFile("testdata/seal.txt")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for line := range bytes.Lines(b) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		var size int64
		var name string
		var want []string
		fields := bytes.Fields(line)
		if len(fields) < 3 {
			t.Fatalf("bad line %q", line)
		}
		if _, err := fmt.Sscan(string(fields[0]), &size); err != nil {
			t.Fatal(err)
		}
		name = string(fields[1])
		for _, f := range fields[2:] {
			want = append(want, string(f))
		}
		s, err := NewSealer(vectorKey(), name, bytes.NewReader(vectorData(size)), size)
		if err != nil {
			t.Fatal(err)
		}
		digests, err := s.Digests(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range digests {
			got = append(got, fmt.Sprintf("%x", d))
		}
		if !slices.Equal(got, want) {
			t.Errorf("size %d: digests\n%v\nwant\n%v", size, got, want)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no vectors")
	}
}

// vectorKey and vectorData define the inputs of testdata/seal.txt.
func vectorKey() []byte { return testKey(0) } // 00 01 02 ... 1f

func vectorData(n int64) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

func BenchmarkSeal4M(b *testing.B) {
	const size = 64*SegmentSize - HeaderSize // exactly one 4 MiB chunk
	s, err := NewSealer(testKey(0), "bench", bytes.NewReader(make([]byte, size)), size)
	if err != nil {
		b.Fatal(err)
	}
	if sizes := s.ChunkSizes(); len(sizes) != 1 || sizes[0] != Size4M {
		b.Fatalf("plan %v", sizes)
	}
	b.SetBytes(Size4M)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := io.Copy(io.Discard, s.Chunk(0)); err != nil {
			b.Fatal(err)
		}
	}
}

type discardAt struct{}

func (discardAt) WriteAt(p []byte, off int64) (int, error) { return len(p), nil }

func BenchmarkOpen4M(b *testing.B) {
	const size = 64*SegmentSize - HeaderSize
	s, err := NewSealer(testKey(0), "bench", bytes.NewReader(make([]byte, size)), size)
	if err != nil {
		b.Fatal(err)
	}
	ct, err := io.ReadAll(s.Chunk(0))
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256(ct)
	o, err := NewOpener(testKey(0), s.ChunkSizes(), discardAt{})
	if err != nil {
		b.Fatal(err)
	}
	r := bytes.NewReader(ct)
	b.SetBytes(Size4M)
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(ct)
		if err := o.OpenChunk(0, digest, r); err != nil {
			b.Fatal(err)
		}
	}
}
