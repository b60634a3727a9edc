package chunk

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"

	"github.com/xftp/xftp/internal/stream"
)

// NewKey returns a fresh random file key of KeySize bytes.
func NewKey() ([]byte, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("chunk: generating file key: %w", err)
	}
	return key, nil
}

// buffers holds what sealing or opening one segment needs, so that the hot
// path does not allocate.
type buffers struct {
	plain  [SegmentSize]byte
	sealed [SealedSegmentSize]byte
	hash   hash.Hash
}

func newBufferPool() *sync.Pool {
	return &sync.Pool{New: func() any { return &buffers{hash: sha256.New()} }}
}

// Sealer produces the encrypted chunks of one file. It keeps no ciphertext:
// every chunk is generated from the source on demand, deterministically, so
// the same chunk can be produced again for a retry. A Sealer is safe for
// concurrent use if its source is (as io.ReaderAt requires).
type Sealer struct {
	c        *stream.Cipher
	src      io.ReaderAt
	size     int64
	header   [HeaderSize]byte
	sizes    []int64
	starts   []int64 // first segment of each chunk
	segments int64   // total number of segments
	pool     *sync.Pool
}

// NewSealer returns a Sealer for the size bytes of src, encrypted under key
// (KeySize bytes, from NewKey; use each key for one file only). The header
// records filepath.Base(name), which must be 1..MaxNameLen bytes of UTF-8
// without '/', '\\' or NUL and not "." or "..". src is read only through
// ReadAt, within [0, size); reading fewer bytes than size is an error when
// the affected chunk is generated.
func NewSealer(key []byte, name string, src io.ReaderAt, size int64) (*Sealer, error) {
	c, err := stream.New(key, SegmentSize)
	if err != nil {
		return nil, fmt.Errorf("chunk: %w", err)
	}
	base, err := sanitizeName(name)
	if err != nil {
		return nil, fmt.Errorf("chunk: %w", err)
	}
	if size < 0 || size > maxFileSize {
		return nil, fmt.Errorf("chunk: file size %d out of range", size)
	}
	sizes := filePlan(size)
	if len(sizes) > MaxChunks {
		return nil, fmt.Errorf("chunk: file of %d bytes needs %d chunks, more than %d", size, len(sizes), MaxChunks)
	}
	s := &Sealer{c: c, src: src, size: size, sizes: sizes, pool: newBufferPool()}
	Header{Name: base, Size: size}.marshal(s.header[:])
	s.starts, s.segments = segmentStarts(sizes)
	return s, nil
}

// segmentStarts returns the first segment of each chunk and the total
// number of segments. Every size must be a multiple of SealedSegmentSize.
func segmentStarts(sizes []int64) ([]int64, int64) {
	starts := make([]int64, len(sizes))
	var n int64
	for i, sz := range sizes {
		starts[i] = n
		n += sz / SealedSegmentSize
	}
	return starts, n
}

// ChunkSizes returns the sizes of the encrypted chunks, in order, as a fresh
// slice. They equal Plan of the padded ciphertext size.
func (s *Sealer) ChunkSizes() []int64 {
	return append([]int64(nil), s.sizes...)
}

// Chunk returns a reader of the ciphertext of chunk i (0-based): exactly
// ChunkSizes()[i] bytes, the same bytes on every call. It reads the source
// as it goes and holds at most one segment in memory. Errors reading the
// source are returned by Read; an index out of range makes Read fail.
func (s *Sealer) Chunk(i int) io.Reader {
	if i < 0 || i >= len(s.sizes) {
		return &chunkReader{err: fmt.Errorf("chunk: no chunk %d, file has %d", i, len(s.sizes))}
	}
	first := s.starts[i]
	return &chunkReader{s: s, seg: first, end: first + s.sizes[i]/SealedSegmentSize}
}

// Digests returns the SHA-256 digest of every chunk, computed in one pass
// over the source. It stops with ctx's error when ctx is done.
func (s *Sealer) Digests(ctx context.Context) ([][32]byte, error) {
	b := s.pool.Get().(*buffers)
	defer s.pool.Put(b)
	digests := make([][32]byte, len(s.sizes))
	for i := range s.sizes {
		b.hash.Reset()
		first := s.starts[i]
		end := first + s.sizes[i]/SealedSegmentSize
		for g := first; g < end; g++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			sealed, err := s.sealSegment(b, g)
			if err != nil {
				return nil, err
			}
			b.hash.Write(sealed)
		}
		b.hash.Sum(digests[i][:0])
	}
	return digests, nil
}

// sealSegment seals segment g into b.sealed and returns it.
func (s *Sealer) sealSegment(b *buffers, g int64) ([]byte, error) {
	plain := b.plain[:]
	if err := s.fill(plain, g*SegmentSize); err != nil {
		return nil, err
	}
	return s.c.Seal(b.sealed[:0], plain, uint64(g), g == s.segments-1), nil
}

// fill writes the virtual plaintext at offset v into p.
func (s *Sealer) fill(p []byte, v int64) error {
	end := v + int64(len(p))
	if v < HeaderSize {
		copy(p, s.header[v:])
	}
	lo, hi := max(v, HeaderSize), min(end, HeaderSize+s.size)
	if lo < hi {
		want := int(hi - lo)
		n, err := s.src.ReadAt(p[lo-v:hi-v], lo-HeaderSize)
		if n < want {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("chunk: reading file at offset %d: %w", lo-HeaderSize+int64(n), err)
		}
	} else {
		hi = max(v, HeaderSize+s.size)
	}
	clear(p[hi-v:])
	return nil
}

// chunkReader generates the ciphertext of one chunk segment by segment.
type chunkReader struct {
	s        *Sealer
	seg, end int64 // next segment to seal, one past the last
	b        *buffers
	out      []byte // unread part of the current sealed segment
	err      error
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.out) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.seg == r.end {
			r.release()
			r.err = io.EOF
			continue
		}
		if r.b == nil {
			r.b = r.s.pool.Get().(*buffers)
		}
		out, err := r.s.sealSegment(r.b, r.seg)
		if err != nil {
			r.release()
			r.err = err
			continue
		}
		r.out = out
		r.seg++
	}
	n := copy(p, r.out)
	r.out = r.out[n:]
	return n, nil
}

func (r *chunkReader) release() {
	if r.b != nil {
		r.s.pool.Put(r.b)
		r.b = nil
	}
}
