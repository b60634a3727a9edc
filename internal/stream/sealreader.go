package stream

import (
	"errors"
	"fmt"
	"io"
)

// SealingReader reads a plaintext of known size from src and yields the
// sealed stream. Knowing the size up front, it needs no look-ahead and can
// seal a segment as soon as it has read it.
//
// A Read with room for whole sealed segments gets as many as fit, read
// from src straight into p and sealed in place there, so a read buffer of
// one or more segments (the download handler's 128 KiB) costs no extra
// copy and no allocation. Only reads
// smaller than a segment go through an internal buffer, allocated on
// first use.
type SealingReader struct {
	c         *Cipher
	src       io.Reader
	remaining int64
	index     uint64
	buf       []byte // one sealed segment, for reads smaller than one
	pending   []byte
	done      bool
	err       error
	// Check, if set, is called once after the last plaintext byte was read
	// and before the last segment is sealed; an error aborts the stream so
	// the reader never completes it (used to refuse serving a body whose
	// digest no longer matches).
	Check func() error
}

// NewSealingReader returns a reader of the sealed form of the size bytes
// read from src. If src yields fewer bytes, Read fails.
func NewSealingReader(c *Cipher, src io.Reader, size int64) *SealingReader {
	return &SealingReader{c: c, src: src, remaining: size}
}

func (r *SealingReader) Read(p []byte) (int, error) {
	if len(r.pending) > 0 {
		n := copy(p, r.pending)
		r.pending = r.pending[n:]
		return n, nil
	}
	n := 0
	for r.err == nil && !r.done {
		plain := r.nextPlainSize()
		if len(p)-n < plain+TagSize {
			break
		}
		var sealed int
		sealed, r.err = r.sealInto(p[n:], plain)
		n += sealed
	}
	if n > 0 {
		return n, nil
	}
	if r.err != nil {
		return 0, r.err
	}
	if r.done {
		return 0, io.EOF
	}
	// p cannot hold the next sealed segment: seal it into buf.
	if r.buf == nil {
		r.buf = make([]byte, r.c.SealedSize())
	}
	sealed, err := r.sealInto(r.buf, r.nextPlainSize())
	r.err = err
	if sealed == 0 {
		return 0, err
	}
	r.pending = r.buf[:sealed]
	n = copy(p, r.pending)
	r.pending = r.pending[n:]
	return n, nil
}

// nextPlainSize is the plaintext size of the next segment.
func (r *SealingReader) nextPlainSize() int {
	return int(min(r.remaining, int64(r.c.segment)))
}

// sealInto reads the next segment's n plaintext bytes into dst and seals
// them in place; dst must hold n+TagSize bytes. It returns the sealed size.
func (r *SealingReader) sealInto(dst []byte, n int) (int, error) {
	last := r.remaining <= int64(r.c.segment)
	if _, err := io.ReadFull(r.src, dst[:n]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, fmt.Errorf("stream: reading plaintext: %w", err)
	}
	r.remaining -= int64(n)
	if last && r.Check != nil {
		if err := r.Check(); err != nil {
			return 0, err
		}
	}
	out := r.c.Seal(dst[:0], dst[:n], r.index, last)
	r.index++
	r.done = last
	return len(out), nil
}
