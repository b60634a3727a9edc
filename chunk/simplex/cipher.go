package simplex

import (
	"crypto/subtle"
	"encoding/binary"

	//lint:ignore SA1019 SimpleX streams XSalsa20-Poly1305 over whole files; no higher-level streaming API exists
	"golang.org/x/crypto/poly1305"
	//lint:ignore SA1019 the seekable keystream needs the block function and counter
	"golang.org/x/crypto/salsa20/salsa"
)

// KeySize and NonceSize are the sizes of a file's key and nonce.
const (
	KeySize   = 32
	NonceSize = 24
	// TagSize is the size of the Poly1305 tag at the end of an encrypted file.
	TagSize = poly1305.TagSize
)

// Key is a file's symmetric key; Nonce its nonce.
type (
	Key   [KeySize]byte
	Nonce [NonceSize]byte
)

// keystream is XSalsa20 as SimpleX keys it, positioned anywhere in the
// stream. SimpleX derives the XSalsa20 key from a file key k as
// HSalsa20(k, 0^16), as NaCl's crypto_box_beforenm does with a DH secret;
// from there it is NaCl's secretbox: the first 32 keystream bytes are the
// Poly1305 key and the message is XORed with the keystream from byte 32 on.
type keystream struct {
	subkey  [32]byte
	counter [16]byte // nonce[16:24] || little-endian block counter
	block   [64]byte // keystream block at counter-1
	used    int      // bytes of block already used; 64 means none left
}

func newKeystream(key *Key, nonce *Nonce) *keystream {
	var zero [16]byte
	var k1 [32]byte
	k := [32]byte(*key)
	salsa.HSalsa20(&k1, &zero, &k, &salsa.Sigma)
	var n16 [16]byte
	copy(n16[:], nonce[:16])
	ks := &keystream{}
	salsa.HSalsa20(&ks.subkey, &n16, &k1, &salsa.Sigma)
	copy(ks.counter[:8], nonce[16:])
	ks.used = 64
	return ks
}

// polyKey returns the Poly1305 key (keystream bytes 0..31) and leaves the
// stream positioned at message byte 0.
func (ks *keystream) polyKey() [32]byte {
	ks.seek(-32)
	var z, k [32]byte
	ks.xor(k[:], z[:])
	return k
}

// seek positions the stream at message byte off (keystream byte off+32).
func (ks *keystream) seek(off int64) {
	pos := uint64(off + 32)
	binary.LittleEndian.PutUint64(ks.counter[8:], pos/64)
	ks.used = 64
	if r := int(pos % 64); r != 0 {
		ks.next()
		ks.used = r
	}
}

// next generates the keystream block at the counter and advances it.
func (ks *keystream) next() {
	var zero [64]byte
	salsa.XORKeyStream(ks.block[:], zero[:], &ks.counter, &ks.subkey)
	ks.advance(1)
	ks.used = 0
}

func (ks *keystream) advance(blocks uint64) {
	c := binary.LittleEndian.Uint64(ks.counter[8:])
	binary.LittleEndian.PutUint64(ks.counter[8:], c+blocks)
}

// xor sets dst = src XOR keystream and advances; dst and src may be the
// same slice.
func (ks *keystream) xor(dst, src []byte) {
	for len(src) > 0 {
		if ks.used < 64 {
			n := subtle.XORBytes(dst, src, ks.block[ks.used:])
			ks.used += n
			dst, src = dst[n:], src[n:]
			continue
		}
		if bulk := len(src) &^ 63; bulk > 0 {
			salsa.XORKeyStream(dst[:bulk], src[:bulk], &ks.counter, &ks.subkey)
			ks.advance(uint64(bulk / 64))
			dst, src = dst[bulk:], src[bulk:]
			continue
		}
		ks.next()
	}
}
