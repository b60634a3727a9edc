package chunk

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
)

// erasureSchemes are the (data, parity) pairs the round trips cover.
var erasureSchemes = [][2]int{{1, 0}, {1, 1}, {2, 1}, {4, 2}, {10, 4}}

// erasureFileSizes give plans with one chunk, mixed sizes, partial last
// stripes and stripes that mix 4 MiB and 1 MiB chunks.
var erasureFileSizes = []int64{0, 200_000, 700_000, 2_600_000, 9_000_000, 13_500_000, 30_000_000}

// encodeParity computes the parity chunks of every stripe, reading the
// data chunks from the Sealer as a client would.
func encodeParity(t testing.TB, e *Erasure, s *Sealer, stripes []Stripe) [][]byte {
	t.Helper()
	var parity [][]byte
	for _, st := range stripes {
		readers := make([]io.Reader, len(st.Data))
		for j, i := range st.Data {
			readers[j] = s.Chunk(i)
		}
		bufs := make([]*bytes.Buffer, e.ParityShards())
		writers := make([]io.Writer, len(bufs))
		for j := range bufs {
			bufs[j] = new(bytes.Buffer)
			writers[j] = bufs[j]
		}
		if err := e.EncodeStripe(readers, st.Sizes, st.ShardSize, writers); err != nil {
			t.Fatalf("stripe %d: %v", st.Index, err)
		}
		for _, b := range bufs {
			parity = append(parity, b.Bytes())
		}
	}
	return parity
}

// stripeShards returns the chunks of stripe st: data, then parity.
func stripeShards(st Stripe, chunks, parity [][]byte) [][]byte {
	var shards [][]byte
	for _, i := range st.Data {
		shards = append(shards, chunks[i])
	}
	for _, j := range st.Parity {
		shards = append(shards, parity[j])
	}
	return shards
}

// erasurePatterns returns the sets of shard positions (of n) to drop:
// every set of at most m when that is few, else random sets of exactly m.
func erasurePatterns(rng *rand.Rand, n, m int) [][]int {
	if n <= 8 {
		var sets [][]int
		for mask := range 1 << n {
			var set []int
			for i := range n {
				if mask&(1<<i) != 0 {
					set = append(set, i)
				}
			}
			if len(set) <= m {
				sets = append(sets, set)
			}
		}
		return sets
	}
	sets := [][]int{nil}
	for range 12 {
		sets = append(sets, rng.Perm(n)[:m])
	}
	return sets
}

func testReplica(server string, n int) []Replica {
	return []Replica{{Server: server, ID: []byte(fmt.Sprint("id-", n)), Key: ed25519.NewKeyFromSeed(testSeed(fmt.Sprint(server, n)))}}
}

// TestErasureRoundTrip seals files, encodes parity, drops up to M chunks
// of every stripe in every way (or many random ways), rebuilds, opens the
// result and compares it with the original file. It also checks that the
// description of each coded file validates and round trips.
func TestErasureRoundTrip(t *testing.T) {
	for _, scheme := range erasureSchemes {
		k, m := scheme[0], scheme[1]
		for _, size := range erasureFileSizes {
			t.Run(fmt.Sprintf("%d+%d/%d", k, m, size), func(t *testing.T) {
				if testing.Short() && size > 3_000_000 {
					t.Skip("short mode: large file")
				}
				rng := rand.New(rand.NewPCG(uint64(size), uint64(k*100+m)))
				key := testKey(byte(k + m))
				data := testData(uint64(size), size)
				s, err := NewSealer(key, "file.bin", bytes.NewReader(data), size)
				if err != nil {
					t.Fatal(err)
				}
				sizes := s.ChunkSizes()
				chunks := readChunks(t, s)
				digests, err := s.Digests(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				e, err := NewErasure(k, m)
				if err != nil {
					t.Fatal(err)
				}
				stripes := e.Stripes(sizes)
				checkStripes(t, stripes, sizes, k, m)
				parity := encodeParity(t, e, s, stripes)
				if len(parity) != len(stripes)*m {
					t.Fatalf("%d parity chunks, want %d", len(parity), len(stripes)*m)
				}
				for _, st := range stripes {
					for _, j := range st.Parity {
						if int64(len(parity[j])) != st.ShardSize || !slices.Contains(DefaultSizes(), st.ShardSize) {
							t.Fatalf("parity chunk %d is %d bytes; stripe shard size %d", j, len(parity[j]), st.ShardSize)
						}
					}
				}
				checkErasureDescription(t, key, sizes, digests, parity, k, m)

				// Every drop pattern of every stripe rebuilds the data.
				for _, st := range stripes {
					all := stripeShards(st, chunks, parity)
					for _, drop := range erasurePatterns(rng, len(all), m) {
						shards := slices.Clone(all)
						for _, i := range drop {
							shards[i] = nil
						}
						if err := e.Reconstruct(shards, st.Sizes, st.ShardSize); err != nil {
							t.Fatalf("stripe %d, drop %v: %v", st.Index, drop, err)
						}
						for j := range st.Data {
							if !bytes.Equal(shards[j], all[j]) {
								t.Fatalf("stripe %d, drop %v: data chunk %d rebuilt wrong", st.Index, drop, j)
							}
						}
					}
					// One more erasure is too many.
					if m < len(all) {
						shards := slices.Clone(all)
						for _, i := range rng.Perm(len(all))[:m+1] {
							shards[i] = nil
						}
						if err := e.Reconstruct(shards, st.Sizes, st.ShardSize); !errors.Is(err, ErrTooManyErasures) {
							t.Fatalf("stripe %d, %d erasures: %v, want ErrTooManyErasures", st.Index, m+1, err)
						}
					}
				}

				// The whole path: drop M chunks per stripe, rebuild with
				// the streaming API, open every data chunk, compare.
				dst := new(memFile)
				o, err := NewOpener(key, sizes, dst)
				if err != nil {
					t.Fatal(err)
				}
				for _, st := range stripes {
					all := stripeShards(st, chunks, parity)
					drop := rng.Perm(len(all))[:min(m, len(all))]
					readers := make([]io.Reader, len(all))
					for i, b := range all {
						if !slices.Contains(drop, i) {
							readers[i] = bytes.NewReader(b)
						}
					}
					out := make([]io.Writer, len(st.Data))
					rebuilt := make([]*bytes.Buffer, len(st.Data))
					for j := range st.Data {
						if readers[j] == nil {
							rebuilt[j] = new(bytes.Buffer)
							out[j] = rebuilt[j]
						}
					}
					if err := e.RebuildStripe(readers, st.Sizes, st.ShardSize, out); err != nil {
						t.Fatalf("stripe %d, drop %v: %v", st.Index, drop, err)
					}
					for j, i := range st.Data {
						r := io.Reader(bytes.NewReader(chunks[i]))
						if rebuilt[j] != nil {
							r = rebuilt[j]
						}
						if err := o.OpenChunk(i, digests[i], r); err != nil {
							t.Fatalf("chunk %d: %v", i, err)
						}
					}
				}
				h, err := o.Header()
				if err != nil {
					t.Fatal(err)
				}
				if h.Size != size || !bytes.Equal(dst.b[:min(int64(len(dst.b)), h.Size)], data) {
					t.Fatal("the opened file differs from the original")
				}
			})
		}
	}
}

// checkStripes checks the layout of stripes independently of Stripes.
func checkStripes(t *testing.T, stripes []Stripe, sizes []int64, k, m int) {
	t.Helper()
	if want := (len(sizes) + k - 1) / k; len(stripes) != want {
		t.Fatalf("%d stripes, want %d", len(stripes), want)
	}
	next := 0
	for s, st := range stripes {
		if st.Index != s || len(st.Data) == 0 || len(st.Data) > k || (len(st.Data) < k && s != len(stripes)-1) {
			t.Fatalf("stripe %d: %+v", s, st)
		}
		var shard int64
		for j, i := range st.Data {
			if i != next || st.Sizes[j] != sizes[i] {
				t.Fatalf("stripe %d: data %v sizes %v", s, st.Data, st.Sizes)
			}
			next++
			shard = max(shard, sizes[i])
		}
		if st.ShardSize != shard || len(st.Parity) != m || (m > 0 && st.Parity[0] != s*m) {
			t.Fatalf("stripe %d: %+v", s, st)
		}
	}
	if next != len(sizes) {
		t.Fatalf("stripes cover %d of %d chunks", next, len(sizes))
	}
}

// checkErasureDescription builds the description of a coded file and
// checks that it validates and round trips through YAML and the link.
func checkErasureDescription(t *testing.T, key []byte, sizes []int64, digests [][32]byte, parity [][]byte, k, m int) {
	t.Helper()
	d := &Description{Version: DescriptionVersion, Party: PartyRecipient, Key: key}
	for i, sz := range sizes {
		d.Chunks = append(d.Chunks, ChunkRef{Number: i + 1, Size: sz, Digest: digests[i], Replicas: testReplica(fmt.Sprint("xftp://a@s", i%(k+m)), i)})
		d.Size += sz
	}
	if m > 0 {
		d.Erasure = ErasureParams{Data: k, Parity: m}
		for j, p := range parity {
			d.Parity = append(d.Parity, ChunkRef{Number: j + 1, Size: int64(len(p)), Digest: sha256.Sum256(p), Replicas: testReplica(fmt.Sprint("xftp://a@s", k+j%m), j)})
		}
	}
	y, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if got := bytes.Contains(y, []byte("\nerasure: {data: ")); got != (m > 0) {
		t.Fatalf("YAML has erasure: %v\n%s", got, y)
	}
	link, err := d.Link()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{y, []byte(link)} {
		got, err := Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, d) {
			t.Fatalf("round trip changed the description:\n%s", y)
		}
	}
}

// TestErasureCorruptShard shows how a caller treats a damaged chunk: its
// digest does not match, so it is passed as an erasure. Had it been used,
// the rebuilt chunk would fail its own digest.
func TestErasureCorruptShard(t *testing.T) {
	size := int64(2_800_000)
	data := testData(7, size)
	key := testKey(9)
	s, err := NewSealer(key, "f", bytes.NewReader(data), size)
	if err != nil {
		t.Fatal(err)
	}
	chunks := readChunks(t, s)
	digests, _ := s.Digests(context.Background())
	e, _ := NewErasure(4, 2)
	st := e.Stripes(s.ChunkSizes())[0]
	parity := encodeParity(t, e, s, []Stripe{st})
	parityDigests := [][32]byte{sha256.Sum256(parity[0]), sha256.Sum256(parity[1])}
	parity[1] = flip(parity[1], 1000)

	// Chunks 0 and 2 are lost; the caller fetched parity 0 and 1, and
	// checks their digests before use.
	shards := [][]byte{nil, chunks[1], nil, chunks[3], parity[0], parity[1]}
	want := [][32]byte{digests[0], digests[1], digests[2], digests[3], parityDigests[0], parityDigests[1]}

	blind := slices.Clone(shards)
	if err := e.Reconstruct(blind, st.Sizes, st.ShardSize); err != nil {
		t.Fatal(err)
	}
	o, _ := NewOpener(key, s.ChunkSizes(), new(memFile))
	if err := o.OpenChunk(0, digests[0], bytes.NewReader(blind[0])); !errors.Is(err, ErrDigest) {
		t.Fatalf("chunk rebuilt from a damaged shard: %v, want ErrDigest", err)
	}

	checked := slices.Clone(shards)
	for i, b := range checked {
		if b != nil && sha256.Sum256(b) != want[i] {
			checked[i] = nil
		}
	}
	if err := e.Reconstruct(checked, st.Sizes, st.ShardSize); !errors.Is(err, ErrTooManyErasures) {
		t.Fatalf("3 erasures of 4+2: %v, want ErrTooManyErasures", err)
	}
	// With one more good chunk the stripe is whole again.
	checked[2] = chunks[2]
	if err := e.Reconstruct(checked, st.Sizes, st.ShardSize); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(checked[0], chunks[0]) {
		t.Fatal("chunk 0 rebuilt wrong")
	}
}

// patternReader yields n bytes of a simple pattern without holding them.
type patternReader struct{ n, off int64 }

func (r *patternReader) Read(p []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.n-r.off)]
	for i := range p {
		p[i] = byte((r.off + int64(i)) * 7)
	}
	r.off += int64(len(p))
	return len(p), nil
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestErasureMemory shows that coding a 4+2 stripe of 4 MiB chunks
// allocates O(block), not O(chunk): at most a few 64 KiB blocks per shard
// the first time, and almost nothing once the buffers are pooled.
func TestErasureMemory(t *testing.T) {
	e, err := NewErasure(4, 2)
	if err != nil {
		t.Fatal(err)
	}
	sizes := []int64{Size4M, Size4M, Size4M, Size4M}
	encode := func() {
		data := make([]io.Reader, 4)
		for i := range data {
			data[i] = &patternReader{n: Size4M}
		}
		if err := e.EncodeStripe(data, sizes, Size4M, []io.Writer{io.Discard, io.Discard}); err != nil {
			t.Fatal(err)
		}
	}
	rebuild := func() {
		shards := []io.Reader{nil, &patternReader{n: Size4M}, nil, &patternReader{n: Size4M}, &patternReader{n: Size4M}, &patternReader{n: Size4M}}
		if err := e.RebuildStripe(shards, sizes, Size4M, []io.Writer{io.Discard, nil, io.Discard, nil}); err != nil {
			t.Fatal(err)
		}
	}
	if raceEnabled {
		// Allocation counts are checked in the normal (non-race) run.
		t.Log("not measured under the race detector (sync.Pool drops items at random)")
		return
	}
	const blocks = 6 * erasureBlock
	// sync.Pool keeps items per P (another P cannot take a P's private
	// item) and over one GC only: with one P and the GC off, "again"
	// measures the pool, not the scheduler or the collector of a busy
	// machine (each failed a CI run).
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	for name, f := range map[string]func(){"EncodeStripe": encode, "RebuildStripe": rebuild} {
		first := allocated(f)
		again := allocated(f)
		t.Logf("%s of 4+2 × 4 MiB: %d bytes allocated the first time, %d again", name, first, again)
		if first > blocks+256<<10 {
			t.Errorf("%s allocated %d bytes the first time, want about %d (6 blocks)", name, first, blocks)
		}
		if again > 128<<10 {
			t.Errorf("%s allocated %d bytes with pooled buffers", name, again)
		}
	}
}

func TestNewErasureErrors(t *testing.T) {
	for _, p := range [][2]int{{0, 0}, {0, 1}, {-1, 2}, {1, -1}, {200, 57}, {257, 0}, {1, math.MaxInt}} {
		if _, err := NewErasure(p[0], p[1]); err == nil {
			t.Errorf("NewErasure(%d, %d) succeeded", p[0], p[1])
		}
	}
	for _, p := range [][2]int{{1, 0}, {256, 0}, {255, 1}, {128, 128}} {
		if _, err := NewErasure(p[0], p[1]); err != nil {
			t.Errorf("NewErasure(%d, %d): %v", p[0], p[1], err)
		}
	}
	e, _ := NewErasure(3, 0)
	if st := e.Stripes([]int64{Size64K}); len(st) != 1 || len(st[0].Parity) != 0 {
		t.Errorf("no-parity stripes: %+v", st)
	}
	if err := e.EncodeStripe([]io.Reader{strings.NewReader("x")}, []int64{1}, 1, nil); err != nil {
		t.Errorf("EncodeStripe with no parity: %v", err)
	}
	if err := e.Reconstruct([][]byte{nil}, []int64{1}, 1); !errors.Is(err, ErrTooManyErasures) {
		t.Errorf("Reconstruct with no parity: %v", err)
	}
	if len(e.Stripes(nil)) != 0 {
		t.Error("stripes of no chunks")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestErasureErrors(t *testing.T) {
	e, _ := NewErasure(2, 1)
	blk := int64(erasureBlock)
	rd := func(n int64) io.Reader { return bytes.NewReader(make([]byte, n)) }
	sizes := []int64{2 * blk, blk}
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"short data", e.EncodeStripe([]io.Reader{rd(2 * blk), rd(blk - 1)}, sizes, 2*blk, []io.Writer{io.Discard}), ErrSize},
		{"long data", e.EncodeStripe([]io.Reader{rd(2*blk + 1), rd(blk)}, sizes, 2*blk, []io.Writer{io.Discard}), ErrSize},
		{"wrong shard size", e.EncodeStripe([]io.Reader{rd(2 * blk), rd(blk)}, sizes, 3*blk, []io.Writer{io.Discard}), ErrSize},
		{"zero size", e.EncodeStripe([]io.Reader{rd(0)}, []int64{0}, 0, []io.Writer{io.Discard}), ErrSize},
		{"short parity", e.RebuildStripe([]io.Reader{nil, rd(blk), rd(blk)}, sizes, 2*blk, []io.Writer{io.Discard, nil}), ErrSize},
		{"long parity", e.RebuildStripe([]io.Reader{nil, rd(blk), rd(2*blk + 1)}, sizes, 2*blk, []io.Writer{io.Discard, nil}), ErrSize},
		{"too many erasures", e.RebuildStripe([]io.Reader{nil, nil, rd(2 * blk)}, sizes, 2*blk, []io.Writer{io.Discard, nil}), ErrTooManyErasures},
		{"wrong length", e.Reconstruct([][]byte{nil, make([]byte, blk), make([]byte, blk)}, sizes, 2*blk), ErrSize},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	for name, err := range map[string]error{
		"readers":          e.EncodeStripe([]io.Reader{rd(2 * blk)}, sizes, 2*blk, []io.Writer{io.Discard}),
		"writers":          e.EncodeStripe([]io.Reader{rd(2 * blk), rd(blk)}, sizes, 2*blk, nil),
		"three data":       e.EncodeStripe([]io.Reader{rd(blk), rd(blk), rd(blk)}, []int64{blk, blk, blk}, blk, []io.Writer{io.Discard}),
		"write error":      e.EncodeStripe([]io.Reader{rd(2 * blk), rd(blk)}, sizes, 2*blk, []io.Writer{failWriter{}}),
		"rebuild write":    e.RebuildStripe([]io.Reader{nil, rd(blk), rd(2 * blk)}, sizes, 2*blk, []io.Writer{failWriter{}, nil}),
		"given and wanted": e.RebuildStripe([]io.Reader{rd(2 * blk), rd(blk), rd(2 * blk)}, sizes, 2*blk, []io.Writer{io.Discard, nil}),
		"rebuild shards":   e.RebuildStripe([]io.Reader{nil, rd(blk)}, sizes, 2*blk, []io.Writer{io.Discard, nil}),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// Nothing wanted: nothing is read.
	if err := e.RebuildStripe([]io.Reader{rd(1), nil, rd(1)}, sizes, 2*blk, []io.Writer{nil, nil}); err != nil {
		t.Errorf("nothing wanted: %v", err)
	}
}

// TestErasureShortStripe checks a stripe with fewer data chunks than data
// shards, of mixed sizes, against the coder's own in-memory reconstruction.
func TestErasureShortStripe(t *testing.T) {
	e, _ := NewErasure(4, 2)
	sizes := []int64{Size1M, Size256K}
	chunks := [][]byte{testData(1, Size1M), testData(2, Size256K)}
	var p0, p1 bytes.Buffer
	if err := e.EncodeStripe([]io.Reader{bytes.NewReader(chunks[0]), bytes.NewReader(chunks[1])}, sizes, Size1M, []io.Writer{&p0, &p1}); err != nil {
		t.Fatal(err)
	}
	// Both data chunks lost: the virtual zero shards and the parity
	// suffice.
	// The second entry's memory is reused.
	buf := make([]byte, 0, Size256K)
	shards := [][]byte{nil, buf, p0.Bytes(), p1.Bytes()}
	if err := e.Reconstruct(shards, sizes, Size1M); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(shards[0], chunks[0]) || !bytes.Equal(shards[1], chunks[1]) {
		t.Fatal("rebuilt wrong")
	}
	if &shards[1][0] != &buf[:1][0] {
		t.Fatal("Reconstruct did not reuse the given buffer")
	}
}

func TestPaddedRecipients(t *testing.T) {
	for _, tc := range [][2]int{{-1, 4}, {0, 4}, {1, 4}, {3, 4}, {4, 4}, {5, 8}, {8, 8}, {9, 16}, {1000, 1024}, {1024, 1024}, {1025, 2048}, {1 << 40, 1 << 40}, {1<<40 + 1, 1 << 41}, {math.MaxInt, math.MaxInt}} {
		if got := PaddedRecipients(tc[0]); got != tc[1] {
			t.Errorf("PaddedRecipients(%d) = %d, want %d", tc[0], got, tc[1])
		}
	}
}

// benchStripe returns k data chunks of 4 MiB and their m parity chunks.
func benchStripe(b *testing.B, e *Erasure) (data, parity [][]byte) {
	sizes := make([]int64, e.DataShards())
	readers := make([]io.Reader, e.DataShards())
	for i := range sizes {
		sizes[i] = Size4M
		data = append(data, testData(uint64(i), Size4M))
		readers[i] = bytes.NewReader(data[i])
	}
	bufs := make([]*bytes.Buffer, e.ParityShards())
	writers := make([]io.Writer, len(bufs))
	for j := range bufs {
		bufs[j] = new(bytes.Buffer)
		writers[j] = bufs[j]
	}
	if err := e.EncodeStripe(readers, sizes, Size4M, writers); err != nil {
		b.Fatal(err)
	}
	for _, p := range bufs {
		parity = append(parity, p.Bytes())
	}
	return data, parity
}

func BenchmarkEncodeStripe(b *testing.B) {
	for _, scheme := range [][2]int{{4, 2}, {10, 4}} {
		b.Run(fmt.Sprintf("%d+%d/4MiB", scheme[0], scheme[1]), func(b *testing.B) {
			e, _ := NewErasure(scheme[0], scheme[1])
			data, _ := benchStripe(b, e)
			sizes := make([]int64, len(data))
			readers := make([]io.Reader, len(data))
			brs := make([]*bytes.Reader, len(data))
			for i := range data {
				sizes[i] = Size4M
				brs[i] = bytes.NewReader(data[i])
				readers[i] = brs[i]
			}
			writers := make([]io.Writer, e.ParityShards())
			for j := range writers {
				writers[j] = io.Discard
			}
			b.SetBytes(int64(len(data)) * Size4M)
			b.ReportAllocs()
			for b.Loop() {
				for i, r := range brs {
					r.Reset(data[i])
				}
				if err := e.EncodeStripe(readers, sizes, Size4M, writers); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRebuild rebuilds 2 missing data chunks of a 4+2 stripe of
// 4 MiB chunks; bytes are the data bytes of the stripe.
func BenchmarkRebuild(b *testing.B) {
	e, _ := NewErasure(4, 2)
	data, parity := benchStripe(b, e)
	sizes := []int64{Size4M, Size4M, Size4M, Size4M}
	b.Run("RebuildStripe/4+2/2missing", func(b *testing.B) {
		brs := []*bytes.Reader{bytes.NewReader(data[1]), bytes.NewReader(data[3]), bytes.NewReader(parity[0]), bytes.NewReader(parity[1])}
		shards := []io.Reader{nil, brs[0], nil, brs[1], brs[2], brs[3]}
		src := [][]byte{data[1], data[3], parity[0], parity[1]}
		out := []io.Writer{io.Discard, nil, io.Discard, nil}
		b.SetBytes(4 * Size4M)
		b.ReportAllocs()
		for b.Loop() {
			for i, r := range brs {
				r.Reset(src[i])
			}
			if err := e.RebuildStripe(shards, sizes, Size4M, out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Reconstruct/4+2/2missing", func(b *testing.B) {
		b.SetBytes(4 * Size4M)
		b.ReportAllocs()
		out0, out2 := make([]byte, 0, Size4M), make([]byte, 0, Size4M)
		for b.Loop() {
			// The caller's buffers are reused, as a client would.
			shards := [][]byte{out0, data[1], out2, data[3], parity[0], parity[1]}
			if err := e.Reconstruct(shards, sizes, Size4M); err != nil {
				b.Fatal(err)
			}
		}
	})
}
