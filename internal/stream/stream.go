package stream

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

const (
	// KeySize is the size of a stream key.
	KeySize = 32
	// TagSize is the authentication overhead of one segment.
	TagSize = 16
	// DefaultSegmentSize is the plaintext size of a segment such that a
	// sealed segment is exactly 64 KiB.
	DefaultSegmentSize = 64<<10 - TagSize

	lastFlag = 0x01
)

// ErrAuth is returned when a segment fails authentication: the ciphertext,
// its order or its length was changed, or the key is wrong.
var ErrAuth = errors.New("stream: message authentication failed")

// Cipher seals and opens the segments of one stream.
type Cipher struct {
	aead    cipher.AEAD
	segment int
}

// New returns a Cipher for key with segments of segmentSize plaintext bytes.
func New(key []byte, segmentSize int) (*Cipher, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("stream: key is %d bytes, want %d", len(key), KeySize)
	}
	if segmentSize <= 0 {
		return nil, fmt.Errorf("stream: bad segment size %d", segmentSize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Cipher{aead: aead, segment: segmentSize}, nil
}

// SegmentSize is the plaintext size of a full segment.
func (c *Cipher) SegmentSize() int { return c.segment }

// SealedSize is the size of a full sealed segment.
func (c *Cipher) SealedSize() int { return c.segment + TagSize }

// CiphertextSize returns the sealed size of a plaintext of n bytes.
func (c *Cipher) CiphertextSize(n int64) int64 {
	segs := n / int64(c.segment)
	if n%int64(c.segment) != 0 || n == 0 {
		segs++
	}
	return n + segs*TagSize
}

func (c *Cipher) nonce(buf *[12]byte, index uint64, last bool) []byte {
	*buf = [12]byte{}
	binary.BigEndian.PutUint64(buf[3:11], index)
	if last {
		buf[11] = lastFlag
	}
	return buf[:]
}

// Seal appends the sealed segment number index to dst. A segment that is not
// the last must be exactly SegmentSize bytes long.
func (c *Cipher) Seal(dst, plain []byte, index uint64, last bool) []byte {
	if len(plain) > c.segment || (!last && len(plain) != c.segment) {
		panic("stream: wrong segment length")
	}
	var n [12]byte
	return c.aead.Seal(dst, c.nonce(&n, index, last), plain, nil)
}

// Open appends the plaintext of sealed segment number index to dst.
func (c *Cipher) Open(dst, sealed []byte, index uint64, last bool) ([]byte, error) {
	if len(sealed) < TagSize || len(sealed) > c.SealedSize() || (!last && len(sealed) != c.SealedSize()) {
		return nil, ErrAuth
	}
	var n [12]byte
	out, err := c.aead.Open(dst, c.nonce(&n, index, last), sealed, nil)
	if err != nil {
		return nil, ErrAuth
	}
	return out, nil
}

// Writer seals what is written to it, segment by segment, starting at
// segment zero. Close seals the last segment; it does not close the
// underlying writer.
type Writer struct {
	c     *Cipher
	dst   io.Writer
	buf   []byte // pending plaintext, at most one segment
	out   []byte
	index uint64
	err   error
}

// NewWriter returns a Writer sealing to dst.
func NewWriter(c *Cipher, dst io.Writer) *Writer {
	return &Writer{c: c, dst: dst, buf: make([]byte, 0, c.segment), out: make([]byte, 0, c.SealedSize())}
}

func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	total := 0
	for len(p) > 0 {
		// A full buffer is flushed only when more data follows, so that
		// Close can mark the final segment as last.
		if len(w.buf) == w.c.segment {
			if err := w.flush(false); err != nil {
				return total, err
			}
		}
		n := copy(w.buf[len(w.buf):w.c.segment], p)
		w.buf = w.buf[:len(w.buf)+n]
		p = p[n:]
		total += n
	}
	return total, nil
}

func (w *Writer) flush(last bool) error {
	w.out = w.c.Seal(w.out[:0], w.buf, w.index, last)
	if _, err := w.dst.Write(w.out); err != nil {
		w.err = err
		return err
	}
	w.index++
	w.buf = w.buf[:0]
	return nil
}

// Close seals and writes the final segment.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	err := w.flush(true)
	if err == nil {
		w.err = errors.New("stream: writer closed")
	}
	return err
}

// Reader opens a sealed stream read from src, starting at segment zero.
type Reader struct {
	c     *Cipher
	src   io.Reader
	in    []byte // one sealed segment plus one byte of look-ahead
	pbuf  []byte // reused plaintext buffer
	plain []byte
	index uint64
	err   error
	done  bool
}

// NewReader returns a Reader that opens the stream read from src.
func NewReader(c *Cipher, src io.Reader) *Reader {
	return &Reader{c: c, src: src, in: make([]byte, 0, c.SealedSize()+1)}
}

func (r *Reader) Read(p []byte) (int, error) {
	for len(r.plain) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.done {
			return 0, io.EOF
		}
		r.err = r.next()
	}
	n := copy(p, r.plain)
	r.plain = r.plain[n:]
	return n, nil
}

// next reads and opens one segment. It keeps one byte beyond the segment
// to learn whether this segment is the last one.
func (r *Reader) next() error {
	full := r.c.SealedSize() + 1
	n, err := io.ReadFull(r.src, r.in[len(r.in):full])
	r.in = r.in[:len(r.in)+n]
	last := false
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		last = true
	case err != nil:
		return err
	}
	seg := r.in
	if !last {
		seg = r.in[:r.c.SealedSize()]
	}
	plain, oerr := r.c.Open(r.pbuf[:0], seg, r.index, last)
	if oerr != nil {
		return oerr
	}
	if !last && len(plain) == 0 {
		return ErrAuth
	}
	r.index++
	r.pbuf = plain
	r.plain = plain
	if last {
		r.done = true
		r.in = r.in[:0]
	} else {
		carry := r.in[r.c.SealedSize()]
		r.in = append(r.in[:0], carry)
	}
	return nil
}
