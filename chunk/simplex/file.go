package simplex

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	//lint:ignore SA1019 SimpleX streams XSalsa20-Poly1305 over whole files; no higher-level streaming API exists
	"golang.org/x/crypto/poly1305"
)

// MaxNameLen is the longest file name a header holds, in bytes of UTF-8.
const MaxNameLen = 255

// maxHeaderScan is how far into the plaintext a reader looks for the
// header, as SimpleX's clients do.
const maxHeaderScan = 1024

// Header is the plaintext header SimpleX puts before a file's bytes.
type Header struct {
	// Name is the file's name as the sender gave it. It is untrusted:
	// callers sanitize it before using it as a path.
	Name string
	// Extra is SimpleX's reserved extension field, nil when absent.
	Extra *string
}

// ErrAuth reports an encrypted file whose tag does not verify: it was
// altered, or the key or nonce is wrong.
var ErrAuth = errors.New("simplex: file authentication failed (wrong key or altered data)")

// TruncateName returns name cut to at most MaxNameLen bytes on a UTF-8
// boundary, as a header can hold.
func TruncateName(name string) string {
	name = strings.ToValidUTF8(name, "\uFFFD")
	if len(name) <= MaxNameLen {
		return name
	}
	n := MaxNameLen
	for n > 0 && !utf8.RuneStart(name[n]) {
		n--
	}
	return name[:n]
}

// MarshalBinary encodes h: a length-prefixed name and an optional
// length-prefixed extra field ('0' absent, '1' present).
func (h Header) MarshalBinary() ([]byte, error) {
	if len(h.Name) > MaxNameLen {
		return nil, fmt.Errorf("simplex: file name is %d bytes, at most %d fit", len(h.Name), MaxNameLen)
	}
	b := append([]byte{byte(len(h.Name))}, h.Name...)
	if h.Extra == nil {
		return append(b, '0'), nil
	}
	if len(*h.Extra) > 255 {
		return nil, fmt.Errorf("simplex: header extra field is %d bytes, at most 255 fit", len(*h.Extra))
	}
	b = append(b, '1', byte(len(*h.Extra)))
	return append(b, *h.Extra...), nil
}

// parseHeader decodes a header at the start of b and returns its length.
func parseHeader(b []byte) (Header, int, error) {
	if len(b) < 1 || len(b) < 1+int(b[0])+1 {
		return Header{}, 0, errors.New("simplex: file header is truncated")
	}
	n := int(b[0])
	h := Header{Name: strings.ToValidUTF8(string(b[1:1+n]), "\uFFFD")}
	i := 1 + n
	switch b[i] {
	case '0':
		return h, i + 1, nil
	case '1':
		if len(b) < i+2 || len(b) < i+2+int(b[i+1]) {
			return Header{}, 0, errors.New("simplex: file header is truncated")
		}
		m := int(b[i+1])
		x := strings.ToValidUTF8(string(b[i+2:i+2+m]), "\uFFFD")
		h.Extra = &x
		return h, i + 2 + m, nil
	default:
		return Header{}, 0, fmt.Errorf("simplex: file header has a bad optional-field tag %#x", b[i])
	}
}

// Sealer produces the encrypted form of one file as SimpleX does:
//
//	XSalsa20(len || header || file || '#' padding) || Poly1305 tag
//
// where len is the big-endian 64-bit length of header and file together,
// and the padding fills the file's chunk plan. It keeps no ciphertext:
// Seal makes one pass over the source for the tag and digests, and ReadAt
// then regenerates any range of the encrypted file from the source (the
// cipher is seekable), for an upload, a retry or a resume. A sealed Sealer
// is safe for concurrent ReadAt if its source is.
type Sealer struct {
	key      Key
	nonce    Nonce
	src      io.ReaderAt
	size     int64
	hdr      []byte // len || encoded header
	sizes    []int64
	encSize  int64
	tag      [TagSize]byte
	sealed   bool
	digest   [sha512.Size]byte
	cdigests [][sha256.Size]byte
}

// NewSealer returns a Sealer for the size bytes of src under key and
// nonce, which must be fresh random values for this file (NewKey). With
// redirect, the whole file goes in one chunk, as SimpleX sizes the
// encrypted description of a redirect.
func NewSealer(key Key, nonce Nonce, h Header, src io.ReaderAt, size int64, redirect bool) (*Sealer, error) {
	if size < 0 || size > MaxFileSizeHard {
		return nil, fmt.Errorf("simplex: file size %d is out of range (at most %d bytes)", size, int64(MaxFileSizeHard))
	}
	eh, err := h.MarshalBinary()
	if err != nil {
		return nil, err
	}
	hdr := binary.BigEndian.AppendUint64(nil, uint64(int64(len(eh))+size))
	hdr = append(hdr, eh...)
	payload := Payload(len(eh), size)
	var sizes []int64
	if redirect {
		s, err := SingleChunk(payload)
		if err != nil {
			return nil, err
		}
		sizes = []int64{s}
	} else {
		sizes = PlanChunks(payload)
	}
	var enc int64
	for _, s := range sizes {
		enc += s
	}
	return &Sealer{key: key, nonce: nonce, src: src, size: size, hdr: hdr, sizes: sizes, encSize: enc}, nil
}

// NewKey returns a fresh random key and nonce.
func NewKey() (Key, Nonce, error) {
	var k Key
	var n Nonce
	if _, err := rand.Read(k[:]); err != nil {
		return k, n, fmt.Errorf("simplex: generating a file key: %w", err)
	}
	if _, err := rand.Read(n[:]); err != nil {
		return k, n, fmt.Errorf("simplex: generating a file nonce: %w", err)
	}
	return k, n, nil
}

// ChunkSizes returns the sizes of the encrypted file's chunks, in order.
func (s *Sealer) ChunkSizes() []int64 { return append([]int64(nil), s.sizes...) }

// EncryptedSize returns the size of the encrypted file: the sum of its
// chunk sizes.
func (s *Sealer) EncryptedSize() int64 { return s.encSize }

// Digest returns the SHA-512 digest of the encrypted file (after Seal).
func (s *Sealer) Digest() []byte { return s.digest[:] }

// ChunkDigest returns the SHA-256 digest of chunk i (0-based, after Seal).
func (s *Sealer) ChunkDigest(i int) []byte { return s.cdigests[i][:] }

// ChunkOffset returns where chunk i starts in the encrypted file.
func (s *Sealer) ChunkOffset(i int) int64 {
	var off int64
	for _, n := range s.sizes[:i] {
		off += n
	}
	return off
}

// Seal reads the source once, computing the tag, the file digest and the
// chunk digests. Call it once before ReadAt, Digest or ChunkDigest.
func (s *Sealer) Seal() error {
	d := &digester{file: sha512.New(), chunk: sha256.New(), sizes: s.sizes}
	if _, err := s.WriteTo(d); err != nil {
		return err
	}
	copy(s.digest[:], d.file.Sum(nil))
	s.cdigests = d.done
	if len(s.cdigests) != len(s.sizes) {
		return errors.New("simplex: internal error: chunk digests do not match the plan")
	}
	s.sealed = true
	return nil
}

// WriteTo writes the whole encrypted file to w in one pass, reading the
// source sequentially, and records the tag.
func (s *Sealer) WriteTo(w io.Writer) (int64, error) {
	ks := newKeystream(&s.key, &s.nonce)
	pk := ks.polyKey()
	mac := poly1305.New(&pk)
	buf := make([]byte, 64<<10)
	var written int64
	emit := func(p []byte) error {
		ks.xor(p, p)
		mac.Write(p)
		n, err := w.Write(p)
		written += int64(n)
		return err
	}
	if err := emit(append(buf[:0], s.hdr...)); err != nil {
		return written, err
	}
	for off := int64(0); off < s.size; {
		n := min(int64(len(buf)), s.size-off)
		if err := readFullAt(s.src, buf[:n], off); err != nil {
			return written, err
		}
		if err := emit(buf[:n]); err != nil {
			return written, err
		}
		off += n
	}
	for left := s.encSize - TagSize - int64(len(s.hdr)) - s.size; left > 0; {
		n := min(int64(len(buf)), left)
		p := buf[:n]
		for i := range p {
			p[i] = '#'
		}
		if err := emit(p); err != nil {
			return written, err
		}
		left -= n
	}
	mac.Sum(s.tag[:0])
	n, err := w.Write(s.tag[:])
	written += int64(n)
	return written, err
}

func readFullAt(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("simplex: reading the file at %d: %w", off, err)
}

// ReadAt reads the encrypted file at off, regenerating it from the source.
// The source must not have changed since Seal; a chunk's digest catches it
// if it did.
func (s *Sealer) ReadAt(p []byte, off int64) (int, error) {
	if !s.sealed {
		return 0, errors.New("simplex: ReadAt before Seal")
	}
	if off < 0 {
		return 0, errors.New("simplex: negative offset")
	}
	if off >= s.encSize {
		return 0, io.EOF
	}
	want := len(p)
	if int64(want) > s.encSize-off {
		p = p[:s.encSize-off]
	}
	body := s.encSize - TagSize
	out := p
	pos := off
	// Plaintext part: header, file, padding.
	if pos < body {
		n := min(int64(len(out)), body-pos)
		q := out[:n]
		hl := int64(len(s.hdr))
		for i := int64(0); i < n; {
			at := pos + i
			switch {
			case at < hl:
				i += int64(copy(q[i:], s.hdr[at:]))
			case at < hl+s.size:
				m := min(n-i, hl+s.size-at)
				if err := readFullAt(s.src, q[i:i+m], at-hl); err != nil {
					return 0, err
				}
				i += m
			default:
				for ; i < n; i++ {
					q[i] = '#'
				}
			}
		}
		ks := newKeystream(&s.key, &s.nonce)
		ks.seek(pos)
		ks.xor(q, q)
		out = out[n:]
		pos += n
	}
	if len(out) > 0 {
		copy(out, s.tag[pos-body:])
	}
	if len(p) < want {
		return len(p), io.EOF
	}
	return len(p), nil
}

// digester hashes the whole stream with SHA-512 and each chunk with SHA-256.
type digester struct {
	file, chunk interface {
		io.Writer
		Sum([]byte) []byte
		Reset()
	}
	sizes []int64
	inCur int64
	done  [][sha256.Size]byte
}

func (d *digester) Write(p []byte) (int, error) {
	n := len(p)
	d.file.Write(p)
	for len(p) > 0 {
		if len(d.done) >= len(d.sizes) {
			return 0, errors.New("simplex: internal error: stream longer than its chunks")
		}
		m := min(int64(len(p)), d.sizes[len(d.done)]-d.inCur)
		d.chunk.Write(p[:m])
		d.inCur += m
		p = p[m:]
		if d.inCur == d.sizes[len(d.done)] {
			var s [sha256.Size]byte
			copy(s[:], d.chunk.Sum(nil))
			d.done = append(d.done, s)
			d.chunk.Reset()
			d.inCur = 0
		}
	}
	return n, nil
}

// Decrypt reads an encrypted file of encSize bytes (its chunks in order)
// from src and writes the file's bytes to dst, returning its header. It
// streams: memory stays bounded for any size. Bytes reach dst before the
// tag at the end is checked, so on any error dst holds garbage the caller
// must discard; ErrAuth means the data or key is wrong. A malformed
// plaintext (a length or header that does not fit) is reported only when
// the tag verifies, so a tampered file always yields ErrAuth.
func Decrypt(dst io.Writer, src io.Reader, encSize int64, key Key, nonce Nonce) (Header, error) {
	if encSize < TagSize+lenSize {
		return Header{}, fmt.Errorf("simplex: encrypted size %d is too small", encSize)
	}
	ks := newKeystream(&key, &nonce)
	pk := ks.polyKey()
	mac := poly1305.New(&pk)
	body := encSize - TagSize
	buf := make([]byte, 64<<10)

	// The first bytes hold the length and the header: gather them first.
	first := min(body, lenSize+maxHeaderScan)
	head := make([]byte, first)
	if _, err := io.ReadFull(src, head); err != nil {
		return Header{}, fmt.Errorf("simplex: reading the encrypted file: %w", err)
	}
	mac.Write(head)
	ks.xor(head, head)
	var h Header
	var bad error  // a structural error, reported if the tag verifies
	var left int64 // file bytes still to write
	declared := int64(binary.BigEndian.Uint64(head[:lenSize]))
	hl := 0
	if declared < 0 || declared > body-lenSize {
		bad = fmt.Errorf("simplex: the file declares %d bytes, more than its %d-byte encrypted body holds", declared, body)
	} else {
		scan := head[lenSize:]
		if int64(len(scan)) > declared {
			scan = scan[:declared]
		}
		var err error
		h, hl, err = parseHeader(scan)
		if err != nil {
			bad = err
		} else {
			left = declared - int64(hl)
			out := head[lenSize+hl:]
			if int64(len(out)) > left {
				out = out[:left]
			}
			if _, err := dst.Write(out); err != nil {
				return Header{}, err
			}
			left -= int64(len(out))
		}
	}
	for done := first; done < body; {
		n := min(int64(len(buf)), body-done)
		p := buf[:n]
		if _, err := io.ReadFull(src, p); err != nil {
			return Header{}, fmt.Errorf("simplex: reading the encrypted file: %w", err)
		}
		mac.Write(p)
		done += n
		if left > 0 {
			m := min(n, left)
			ks.xor(p[:m], p[:m])
			if _, err := dst.Write(p[:m]); err != nil {
				return Header{}, err
			}
			left -= m
		}
	}
	var tag [TagSize]byte
	if _, err := io.ReadFull(src, tag[:]); err != nil {
		return Header{}, fmt.Errorf("simplex: reading the tag: %w", err)
	}
	var sum [TagSize]byte
	mac.Sum(sum[:0])
	if subtle.ConstantTimeCompare(sum[:], tag[:]) != 1 {
		return Header{}, ErrAuth
	}
	if bad != nil {
		return Header{}, bad
	}
	return h, nil
}
