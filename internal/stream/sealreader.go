package stream

import (
	"errors"
	"fmt"
	"io"
)

// SealingReader reads a plaintext of known size from src and yields the
// sealed stream. Knowing the size up front, it needs no look-ahead and can
// seal a segment as soon as it has read it.
type SealingReader struct {
	c         *Cipher
	src       io.Reader
	remaining int64
	index     uint64
	in, out   []byte
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
	return &SealingReader{c: c, src: src, remaining: size,
		in: make([]byte, c.segment), out: make([]byte, 0, c.SealedSize())}
}

func (r *SealingReader) Read(p []byte) (int, error) {
	for len(r.pending) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.done {
			return 0, io.EOF
		}
		r.err = r.next()
	}
	n := copy(p, r.pending)
	r.pending = r.pending[n:]
	return n, nil
}

func (r *SealingReader) next() error {
	n := int64(r.c.segment)
	last := r.remaining <= n
	if last {
		n = r.remaining
	}
	if _, err := io.ReadFull(r.src, r.in[:n]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("stream: reading plaintext: %w", err)
	}
	r.remaining -= n
	if last && r.Check != nil {
		if err := r.Check(); err != nil {
			return err
		}
	}
	r.out = r.c.Seal(r.out[:0], r.in[:n], r.index, last)
	r.pending = r.out
	r.index++
	r.done = last
	return nil
}
