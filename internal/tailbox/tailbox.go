// Package tailbox is NaCl's secretbox (XSalsa20-Poly1305) as SimpleX uses
// it for files and XFTP downloads: the same keystream and Poly1305 key as
// crypto_secretbox, but streamed, with the 16-byte tag after the
// ciphertext instead of before it. A sealed stream of n bytes is n+16
// bytes long, and only the end of the stream proves it authentic.
//
// golang.org/x/crypto/nacl/secretbox does the same in memory only; this
// package streams it with x/crypto's salsa20 and poly1305 primitives, so a
// 4 MiB chunk or a 1 GiB file is never held whole.
package tailbox

import (
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"io"

	//lint:ignore SA1019 the low-level primitives are the point: no streaming secretbox exists
	"golang.org/x/crypto/poly1305"
	//lint:ignore SA1019 see above
	"golang.org/x/crypto/salsa20/salsa"
)

// Sizes.
const (
	KeySize   = 32
	NonceSize = 24
	TagSize   = poly1305.TagSize
)

// ErrAuth means the tag did not verify: the stream was altered, truncated,
// or sealed with another key or nonce.
var ErrAuth = errors.New("tailbox: message authentication failed")

// cipher is the XSalsa20 keystream of one key and nonce, and the Poly1305
// MAC over the ciphertext.
type cipher struct {
	subKey  [32]byte
	counter [16]byte // nonce[16:24] || little-endian block number
	pos     uint64   // keystream bytes used, including the 32 of the MAC key
	block   [64]byte // the keystream block holding pos, when pos%64 != 0
	mac     *poly1305.MAC
}

func newCipher(key *[KeySize]byte, nonce *[NonceSize]byte) *cipher {
	c := new(cipher)
	var hNonce [16]byte
	copy(hNonce[:], nonce[:16])
	salsa.HSalsa20(&c.subKey, &hNonce, key, &salsa.Sigma)
	copy(c.counter[:8], nonce[16:])
	// The first 32 keystream bytes are the Poly1305 key; the message
	// starts at keystream byte 32, as in crypto_secretbox.
	c.fill(0)
	var macKey [32]byte
	copy(macKey[:], c.block[:32])
	c.mac = poly1305.New(&macKey)
	c.pos = 32
	return c
}

// fill computes keystream block n into c.block.
func (c *cipher) fill(n uint64) {
	binary.LittleEndian.PutUint64(c.counter[8:], n)
	clear(c.block[:])
	salsa.XORKeyStream(c.block[:], c.block[:], &c.counter, &c.subKey)
}

// xor XORs the next len(p) keystream bytes into p.
func (c *cipher) xor(p []byte) {
	for len(p) > 0 {
		off := c.pos % 64
		if off != 0 || len(p) < 64 {
			if off == 0 || c.pos < 64 {
				c.fill(c.pos / 64)
			}
			n := subtle.XORBytes(p, p, c.block[off:])
			p, c.pos = p[n:], c.pos+uint64(n)
			continue
		}
		// Whole blocks straight from the keystream.
		n := len(p) &^ 63
		binary.LittleEndian.PutUint64(c.counter[8:], c.pos/64)
		salsa.XORKeyStream(p[:n], p[:n], &c.counter, &c.subKey)
		p, c.pos = p[n:], c.pos+uint64(n)
	}
}

// Sealer encrypts a stream: write plaintext, read nothing back; it is an
// io.Reader over a plaintext reader.
type Sealer struct {
	c         *cipher
	src       io.Reader
	remaining int64
	tag       []byte
}

// NewSealer returns a reader of the sealed form of exactly size bytes of
// src: their ciphertext, then the tag. Reading fails with
// io.ErrUnexpectedEOF if src ends early; bytes beyond size are not read.
func NewSealer(key *[KeySize]byte, nonce *[NonceSize]byte, src io.Reader, size int64) *Sealer {
	return &Sealer{c: newCipher(key, nonce), src: src, remaining: size}
}

// SealedSize is the length of the sealed form of size bytes.
func SealedSize(size int64) int64 { return size + TagSize }

func (s *Sealer) Read(p []byte) (int, error) {
	if s.remaining == 0 {
		if s.tag == nil {
			s.tag = s.c.mac.Sum(nil)
		}
		if len(s.tag) == 0 {
			return 0, io.EOF
		}
		n := copy(p, s.tag)
		s.tag = s.tag[n:]
		return n, nil
	}
	if int64(len(p)) > s.remaining {
		p = p[:s.remaining]
	}
	n, err := s.src.Read(p)
	s.c.xor(p[:n])
	s.c.mac.Write(p[:n])
	s.remaining -= int64(n)
	if err == io.EOF {
		if s.remaining > 0 {
			return n, io.ErrUnexpectedEOF
		}
		err = nil
	}
	return n, err
}

// Opener decrypts a sealed stream of a known plaintext size.
type Opener struct {
	c         *cipher
	src       io.Reader
	remaining int64
	verified  bool
}

// NewOpener returns a reader of the plaintext of src, which holds size
// bytes of ciphertext followed by the tag. Its last Read returns ErrAuth
// instead of io.EOF if the tag does not verify, so callers must not use
// the plaintext before reading to io.EOF.
func NewOpener(key *[KeySize]byte, nonce *[NonceSize]byte, src io.Reader, size int64) *Opener {
	return &Opener{c: newCipher(key, nonce), src: src, remaining: size}
}

func (o *Opener) Read(p []byte) (int, error) {
	if o.remaining == 0 {
		if !o.verified {
			var tag [TagSize]byte
			if _, err := io.ReadFull(o.src, tag[:]); err != nil {
				return 0, ErrAuth
			}
			if !o.c.mac.Verify(tag[:]) {
				return 0, ErrAuth
			}
			o.verified = true
		}
		return 0, io.EOF
	}
	if int64(len(p)) > o.remaining {
		p = p[:o.remaining]
	}
	n, err := o.src.Read(p)
	o.c.mac.Write(p[:n])
	o.c.xor(p[:n])
	o.remaining -= int64(n)
	if err == io.EOF {
		if o.remaining > 0 {
			return n, io.ErrUnexpectedEOF
		}
		err = nil
	}
	return n, err
}
