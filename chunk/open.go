package chunk

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/xftp/xftp/internal/stream"
)

var (
	// ErrDigest is returned when a chunk's SHA-256 digest differs from the
	// one in the description: it was damaged or replaced in storage or in
	// transit. Fetching it again (from another replica) may help.
	ErrDigest = errors.New("chunk: chunk digest mismatch")
	// ErrAuth is returned when a chunk has the expected digest but does not
	// decrypt: the key is wrong or the sender produced a bad file. Errors
	// that wrap it also wrap stream.ErrAuth.
	ErrAuth = errors.New("chunk: decryption failed")
	// ErrSize is returned when a chunk has the wrong length or the chunk
	// sizes are not valid.
	ErrSize = errors.New("chunk: wrong size")
)

// Opener checks and decrypts the chunks of one file into dst. Chunks may be
// opened in any order, and concurrently for different indexes.
//
// The file occupies dst from offset 0. Until chunk 0 has been opened the
// file size is unknown, so other chunks may write padding past its end:
// after all chunks are opened the caller truncates dst to Header().Size.
type Opener struct {
	c        *stream.Cipher
	dst      io.WriterAt
	sizes    []int64
	starts   []int64
	segments int64
	pool     *sync.Pool

	mu     sync.Mutex
	header *Header // nil until chunk 0 is opened
}

// NewOpener returns an Opener for the file encrypted under key whose chunks
// have chunkSizes (from the description), writing plaintext to dst. Every
// size must be a positive multiple of SealedSegmentSize of at most Size4M,
// and there must be 1..MaxChunks of them; otherwise the error wraps ErrSize.
func NewOpener(key []byte, chunkSizes []int64, dst io.WriterAt) (*Opener, error) {
	c, err := stream.New(key, SegmentSize)
	if err != nil {
		return nil, fmt.Errorf("chunk: %w", err)
	}
	if len(chunkSizes) == 0 || len(chunkSizes) > MaxChunks {
		return nil, fmt.Errorf("%w: %d chunks, want 1..%d", ErrSize, len(chunkSizes), MaxChunks)
	}
	for i, sz := range chunkSizes {
		if sz <= 0 || sz%SealedSegmentSize != 0 || sz > Size4M {
			return nil, fmt.Errorf("%w: chunk %d is %d bytes, not a multiple of %d up to %d", ErrSize, i, sz, SealedSegmentSize, Size4M)
		}
	}
	sizes := slices.Clone(chunkSizes)
	starts, segments := segmentStarts(sizes)
	return &Opener{c: c, dst: dst, sizes: sizes, starts: starts, segments: segments, pool: newBufferPool()}, nil
}

// Header returns the file's header once chunk 0 has been opened
// successfully, and an error before.
func (o *Opener) Header() (Header, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.header == nil {
		return Header{}, errors.New("chunk: header not known until chunk 0 is opened")
	}
	return *o.header, nil
}

// OpenChunk reads the ciphertext of chunk i (0-based) from r, exactly
// ChunkSizes[i] bytes, and writes its plaintext to dst. It checks the
// SHA-256 digest of what it reads against digest and decrypts as it goes,
// holding one segment in memory.
//
// Errors: ErrSize if r yields fewer or more bytes; otherwise ErrDigest if
// the digest differs; otherwise ErrAuth if a segment fails to decrypt, or
// ErrHeader if chunk 0's header is malformed or does not match the chunk
// sizes. Read errors of r and write errors of dst are returned wrapped. On
// error, the part of dst this chunk covers may be partly written; open the
// chunk again before using the file.
func (o *Opener) OpenChunk(i int, digest [32]byte, r io.Reader) error {
	if i < 0 || i >= len(o.sizes) {
		return fmt.Errorf("chunk: no chunk %d, file has %d", i, len(o.sizes))
	}
	b := o.pool.Get().(*buffers)
	defer o.pool.Put(b)
	b.hash.Reset()

	// After a decryption or header error the rest of the chunk is still
	// read and hashed, so that damage in transit is reported as ErrDigest
	// rather than ErrAuth.
	var failed error
	first := o.starts[i]
	end := first + o.sizes[i]/SealedSegmentSize
	for g := first; g < end; g++ {
		sealed := b.sealed[:]
		if _, err := io.ReadFull(r, sealed); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("%w: chunk %d is shorter than %d bytes", ErrSize, i, o.sizes[i])
			}
			return fmt.Errorf("chunk: reading chunk %d: %w", i, err)
		}
		b.hash.Write(sealed)
		if failed != nil {
			continue
		}
		plain, err := o.c.Open(b.plain[:0], sealed, uint64(g), g == o.segments-1)
		if err != nil {
			failed = fmt.Errorf("%w: chunk %d, segment %d: %w", ErrAuth, i, g-first, err)
			continue
		}
		if err := o.write(plain, g); err != nil {
			if !errors.Is(err, ErrHeader) {
				return err
			}
			failed = err
		}
	}
	switch n, err := io.ReadFull(r, b.sealed[:1]); {
	case n > 0:
		return fmt.Errorf("%w: chunk %d is longer than %d bytes", ErrSize, i, o.sizes[i])
	case err != nil && !errors.Is(err, io.EOF):
		return fmt.Errorf("chunk: reading chunk %d: %w", i, err)
	}
	var sum [32]byte
	b.hash.Sum(sum[:0])
	if sum != digest {
		return fmt.Errorf("%w: chunk %d", ErrDigest, i)
	}
	return failed
}

// write writes the file bytes of opened segment g to dst, parsing the
// header first if g is segment 0.
func (o *Opener) write(plain []byte, g int64) error {
	v := g * SegmentSize
	if g == 0 {
		h, err := parseHeader(plain)
		if err != nil {
			return err
		}
		if err := o.setHeader(h); err != nil {
			return err
		}
	}
	limit := o.segments * SegmentSize // the end of the padding
	o.mu.Lock()
	if o.header != nil {
		limit = HeaderSize + o.header.Size
	}
	o.mu.Unlock()
	lo, hi := max(v, HeaderSize), min(v+int64(len(plain)), limit)
	if lo >= hi {
		return nil
	}
	if _, err := o.dst.WriteAt(plain[lo-v:hi-v], lo-HeaderSize); err != nil {
		return fmt.Errorf("chunk: writing file at offset %d: %w", lo-HeaderSize, err)
	}
	return nil
}

// setHeader records h after checking that a file of its size is encrypted
// into exactly the chunk sizes of this Opener.
func (o *Opener) setHeader(h Header) error {
	if HeaderSize+h.Size > o.segments*SegmentSize {
		return fmt.Errorf("%w: file size %d exceeds the capacity of the chunks", ErrHeader, h.Size)
	}
	if !slices.Equal(filePlan(h.Size), o.sizes) {
		return fmt.Errorf("%w: file size %d does not match the chunk sizes", ErrHeader, h.Size)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.header != nil && *o.header != h {
		return fmt.Errorf("%w: differs from the header read before", ErrHeader)
	}
	o.header = &h
	return nil
}
