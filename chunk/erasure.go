package chunk

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/klauspost/reedsolomon"
)

// MaxShards is the largest number of data plus parity chunks in a stripe.
const MaxShards = 256

// ErrTooManyErasures is returned when fewer chunks of a stripe are
// available than it has data shards, so the missing data cannot be
// rebuilt.
var ErrTooManyErasures = errors.New("chunk: too many chunks of a stripe are missing to rebuild it")

// erasureBlock is how much of every shard of a stripe is coded at a time.
// Encoding and rebuilding hold (data + parity) blocks, never whole chunks.
const erasureBlock = 64 << 10

// Erasure computes and uses Reed-Solomon parity over the chunks of a file
// (see "Erasure coding" in the package documentation). It is safe for
// concurrent use.
type Erasure struct {
	data, parity int
	enc          reedsolomon.Encoder // nil without parity
	pool         sync.Pool           // of *[][]byte: data+parity blocks of erasureBlock bytes
}

// NewErasure returns an Erasure with data data shards and parity parity
// shards per stripe: 1 ≤ data, 0 ≤ parity, data+parity ≤ MaxShards.
// Parity 0 means no coding: no parity chunks, nothing can be rebuilt.
func NewErasure(data, parity int) (*Erasure, error) {
	if data < 1 || parity < 0 || data > MaxShards || parity > MaxShards-data {
		return nil, fmt.Errorf("chunk: erasure coding %d+%d: want at least 1 data shard, no negative parity and at most %d shards", data, parity, MaxShards)
	}
	e := &Erasure{data: data, parity: parity}
	if parity > 0 {
		enc, err := reedsolomon.New(data, parity, reedsolomon.WithMaxGoroutines(1))
		if err != nil {
			return nil, fmt.Errorf("chunk: erasure coding %d+%d: %w", data, parity, err)
		}
		e.enc = enc
	}
	e.pool.New = func() any {
		blocks := make([][]byte, data+parity)
		for i := range blocks {
			blocks[i] = make([]byte, erasureBlock)
		}
		return &blocks
	}
	return e, nil
}

// DataShards returns the number of data chunks in a full stripe.
func (e *Erasure) DataShards() int { return e.data }

// ParityShards returns the number of parity chunks of every stripe.
func (e *Erasure) ParityShards() int { return e.parity }

// Stripe is a run of consecutive data chunks of a file coded together, and
// its parity chunks.
type Stripe struct {
	Index     int     // 0-based position among the file's stripes
	Data      []int   // 0-based indexes of its data chunks, 1..DataShards of them
	Sizes     []int64 // Sizes[j] is the size of chunk Data[j]
	ShardSize int64   // the largest of Sizes: the size of each of its parity chunks
	Parity    []int   // 0-based indexes of its parity chunks in Description.Parity
}

// Stripes cuts chunks of the given sizes (in file order) into stripes of
// DataShards chunks; the last stripe may have fewer. It returns no stripes
// for no sizes.
func (e *Erasure) Stripes(sizes []int64) []Stripe {
	n := (len(sizes) + e.data - 1) / e.data
	stripes := make([]Stripe, n)
	for s := range stripes {
		first, end := s*e.data, min((s+1)*e.data, len(sizes))
		st := Stripe{Index: s, Data: make([]int, 0, end-first), Sizes: slices.Clone(sizes[first:end]), Parity: make([]int, e.parity)}
		for i := first; i < end; i++ {
			st.Data = append(st.Data, i)
		}
		st.ShardSize = stripeShardSize(st.Sizes)
		for j := range st.Parity {
			st.Parity[j] = s*e.parity + j
		}
		stripes[s] = st
	}
	return stripes
}

// stripeShardSize returns the largest of sizes.
func stripeShardSize(sizes []int64) int64 {
	var m int64
	for _, sz := range sizes {
		m = max(m, sz)
	}
	return m
}

// checkStripe checks the sizes of a stripe's data chunks and its shard size.
func (e *Erasure) checkStripe(sizes []int64, shardSize int64) error {
	if len(sizes) < 1 || len(sizes) > e.data {
		return fmt.Errorf("chunk: a stripe has %d data chunks, want 1..%d", len(sizes), e.data)
	}
	for i, sz := range sizes {
		if sz <= 0 {
			return fmt.Errorf("%w: data chunk %d of the stripe has size %d", ErrSize, i, sz)
		}
	}
	if m := stripeShardSize(sizes); shardSize != m {
		return fmt.Errorf("%w: shard size %d, but the largest data chunk of the stripe is %d bytes", ErrSize, shardSize, m)
	}
	return nil
}

func (e *Erasure) getBlocks() [][]byte { return *e.pool.Get().(*[][]byte) }

func (e *Erasure) putBlocks(b [][]byte) { e.pool.Put(&b) }

// readBlock fills block[:n] with bytes off..off+n of a shard whose reader r
// yields size bytes: what lies beyond size is zero.
func readBlock(r io.Reader, block []byte, off, size int64, n int, what string, i int) error {
	m := int(min(max(size-off, 0), int64(n)))
	if m > 0 {
		if _, err := io.ReadFull(r, block[:m]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("%w: %s chunk %d of the stripe is shorter than %d bytes", ErrSize, what, i, size)
			}
			return fmt.Errorf("chunk: reading %s chunk %d of the stripe: %w", what, i, err)
		}
	}
	clear(block[m:n])
	return nil
}

// checkEnd checks that r has nothing left to read.
func checkEnd(r io.Reader, size int64, what string, i int) error {
	var b [1]byte
	switch n, err := io.ReadFull(r, b[:]); {
	case n > 0:
		return fmt.Errorf("%w: %s chunk %d of the stripe is longer than %d bytes", ErrSize, what, i, size)
	case err != nil && !errors.Is(err, io.EOF):
		return fmt.Errorf("chunk: reading %s chunk %d of the stripe: %w", what, i, err)
	}
	return nil
}

// EncodeStripe computes the parity chunks of one stripe. data[j] yields the
// sizes[j] bytes of the stripe's j-th data chunk (use Stripe.Sizes and
// Sealer.Chunk); shardSize is Stripe.ShardSize. It writes exactly
// shardSize bytes to each of the ParityShards writers in parity.
//
// It streams: data is read and parity written in blocks of 64 KiB, in
// lockstep, so it holds (DataShards+ParityShards) × 64 KiB of buffers
// (reused across calls), whatever the chunk size. Parity is deterministic,
// so a parity chunk can be produced again for a retry by encoding the
// stripe again. With no parity it reads nothing.
//
// Errors: ErrSize if a reader yields fewer or more bytes than its size or
// the sizes do not fit the stripe; read and write errors wrapped. On error
// the parity written so far is incomplete.
func (e *Erasure) EncodeStripe(data []io.Reader, sizes []int64, shardSize int64, parity []io.Writer) error {
	if err := e.checkStripe(sizes, shardSize); err != nil {
		return err
	}
	if len(data) != len(sizes) || len(parity) != e.parity {
		return fmt.Errorf("chunk: EncodeStripe got %d readers for %d sizes and %d parity writers, want %d", len(data), len(sizes), len(parity), e.parity)
	}
	if e.parity == 0 {
		return nil
	}
	blocks := e.getBlocks()
	defer e.putBlocks(blocks)
	shards := make([][]byte, len(blocks))
	for i := len(sizes); i < e.data; i++ {
		clear(blocks[i]) // virtual all-zero data shards of a short stripe
	}
	for off := int64(0); off < shardSize; off += erasureBlock {
		n := int(min(erasureBlock, shardSize-off))
		for i, b := range blocks {
			shards[i] = b[:n]
		}
		for i, r := range data {
			if err := readBlock(r, blocks[i], off, sizes[i], n, "data", i); err != nil {
				return err
			}
		}
		if err := e.enc.Encode(shards); err != nil {
			return fmt.Errorf("chunk: encoding parity: %w", err)
		}
		for j, w := range parity {
			if _, err := w.Write(shards[e.data+j]); err != nil {
				return fmt.Errorf("chunk: writing parity chunk %d of the stripe: %w", j, err)
			}
		}
	}
	for i, r := range data {
		if err := checkEnd(r, sizes[i], "data", i); err != nil {
			return err
		}
	}
	return nil
}

// RebuildStripe rebuilds missing data chunks of one stripe from any
// DataShards of its other chunks, streaming.
//
// shards has len(sizes)+ParityShards entries: the stripe's data chunks in
// order, then its parity chunks. A nil entry is an erasure: a chunk that is
// missing, or that the caller rejects (its digest did not match the
// description). A non-nil data entry j yields sizes[j] bytes, a parity
// entry shardSize bytes. out has len(sizes) entries; out[j] non-nil asks
// for data chunk j, which must be an erasure, to be rebuilt and written
// there, exactly sizes[j] bytes.
//
// Only the first available shards needed are read (data before parity),
// each to its end; the other readers are left untouched. Data and output
// move in lockstep blocks of 64 KiB, so it holds (DataShards+ParityShards)
// × 64 KiB of buffers (reused across calls), whatever the chunk size.
//
// A rebuilt chunk is only as good as its inputs: the caller checks it
// against the digest in the description (Opener.OpenChunk does).
//
// Errors: ErrTooManyErasures (before reading anything) if fewer than
// DataShards chunks are available, counting the virtual zero shards of a
// short stripe as available; ErrSize if a reader yields fewer or more bytes
// than its size; read and write errors wrapped.
func (e *Erasure) RebuildStripe(shards []io.Reader, sizes []int64, shardSize int64, out []io.Writer) error {
	if err := e.checkStripe(sizes, shardSize); err != nil {
		return err
	}
	k := len(sizes)
	if len(shards) != k+e.parity || len(out) != k {
		return fmt.Errorf("chunk: RebuildStripe got %d shards and %d outputs for %d data chunks, want %d and %d", len(shards), len(out), k, k+e.parity, k)
	}
	// use[i] says whether stripe shard i (in the coder's numbering:
	// data 0..DataShards-1, then parity) is read; virtual shards count.
	use := make([]bool, e.data+e.parity)
	available, wanted := e.data-k, false
	for i := range e.data + e.parity {
		var r io.Reader
		switch {
		case i < k:
			r = shards[i]
			if out[i] != nil {
				if r != nil {
					return fmt.Errorf("chunk: RebuildStripe: data chunk %d of the stripe is both given and wanted", i)
				}
				wanted = true
			}
		case i < e.data:
			use[i] = true // virtual: always present
			continue
		default:
			r = shards[k+i-e.data]
		}
		if r != nil && available < e.data {
			use[i] = true
			available++
		}
	}
	if available < e.data {
		return fmt.Errorf("%w: %d of %d chunks available, %d needed", ErrTooManyErasures, available-(e.data-k), k+e.parity, k)
	}
	if !wanted {
		return nil
	}
	reader := func(i int) io.Reader {
		if i < k {
			return shards[i]
		}
		return shards[k+i-e.data]
	}
	required := make([]bool, e.data)
	for j, w := range out {
		required[j] = w != nil
	}

	blocks := e.getBlocks()
	defer e.putBlocks(blocks)
	coded := make([][]byte, len(blocks))
	for i := k; i < e.data; i++ {
		clear(blocks[i])
	}
	for off := int64(0); off < shardSize; off += erasureBlock {
		n := int(min(erasureBlock, shardSize-off))
		for i, b := range blocks {
			switch {
			case !use[i]:
				coded[i] = b[:0] // an erasure; reedsolomon reuses the buffer
			case i < k:
				if err := readBlock(reader(i), b, off, sizes[i], n, "data", i); err != nil {
					return err
				}
				coded[i] = b[:n]
			case i < e.data:
				coded[i] = b[:n]
			default:
				if err := readBlock(reader(i), b, off, shardSize, n, "parity", i-e.data); err != nil {
					return err
				}
				coded[i] = b[:n]
			}
		}
		if err := e.enc.ReconstructSome(coded, required); err != nil {
			return fmt.Errorf("chunk: rebuilding stripe: %w", err)
		}
		for j, w := range out {
			if m := min(max(sizes[j]-off, 0), int64(n)); w != nil && m > 0 {
				if _, err := w.Write(coded[j][:m]); err != nil {
					return fmt.Errorf("chunk: writing rebuilt data chunk %d of the stripe: %w", j, err)
				}
			}
		}
	}
	for i := range use {
		if use[i] && (i < k || i >= e.data) {
			size, what, idx := shardSize, "parity", i-e.data
			if i < k {
				size, what, idx = sizes[i], "data", i
			}
			if err := checkEnd(reader(i), size, what, idx); err != nil {
				return err
			}
		}
	}
	return nil
}

// Reconstruct is RebuildStripe for a stripe held in memory: shards has
// len(sizes)+ParityShards entries, the data chunks then the parity chunks,
// nil (or empty) for an erasure. It fills every missing data entry with
// its rebuilt chunk, using the entry's memory if it has zero length and
// enough capacity (so buffers can be reused), else a fresh slice; missing
// parity entries are left as they are.
//
// Memory: the caller's chunks (at most (DataShards+ParityShards) × 4 MiB
// for a stripe), the rebuilt chunks, and (DataShards+ParityShards) × 64
// KiB of reused buffers. Errors are those of RebuildStripe; a given chunk
// of the wrong length is ErrSize.
func (e *Erasure) Reconstruct(shards [][]byte, sizes []int64, shardSize int64) error {
	if err := e.checkStripe(sizes, shardSize); err != nil {
		return err
	}
	k := len(sizes)
	if len(shards) != k+e.parity {
		return fmt.Errorf("chunk: Reconstruct got %d shards for %d data chunks, want %d", len(shards), k, k+e.parity)
	}
	readers := make([]io.Reader, len(shards))
	out := make([]io.Writer, k)
	rebuilt := make([]*sliceWriter, k)
	for i, b := range shards {
		if len(b) == 0 {
			if i < k {
				if int64(cap(b)) >= sizes[i] {
					b = b[:0]
				} else {
					b = make([]byte, 0, sizes[i])
				}
				rebuilt[i] = &sliceWriter{b: b}
				out[i] = rebuilt[i]
			}
			continue
		}
		want := shardSize
		if i < k {
			want = sizes[i]
		}
		if int64(len(b)) != want {
			return fmt.Errorf("%w: chunk %d of the stripe is %d bytes, want %d", ErrSize, i, len(b), want)
		}
		readers[i] = &sliceReader{b: b}
	}
	if err := e.RebuildStripe(readers, sizes, shardSize, out); err != nil {
		return err
	}
	for i, w := range rebuilt {
		if w != nil {
			shards[i] = w.b
		}
	}
	return nil
}

// sliceReader and sliceWriter are minimal bytes.Reader and bytes.Buffer
// that never grow or copy more than asked.
type sliceReader struct{ b []byte }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}
