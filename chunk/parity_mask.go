package chunk

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
)

// MaskParity XORs a parity chunk with a keystream derived from the file key,
// its stripe and its position: AES-256-CTR under
// HKDF-SHA256(key, salt "xftp parity mask v1", info = stripe (u64 BE) ||
// parity index (u64 BE)), zero IV. Masking is its own inverse.
//
// Reed-Solomon parity of a one-chunk stripe is a copy of the data chunk,
// and parity of any stripe is a fixed function of its data: unmasked, two
// servers comparing what they store could pair a parity chunk with its data
// chunks. Masked parity is unrelated to any other chunk's bytes for anyone
// without the file key. Uploaders mask after encoding; downloaders unmask a
// fetched parity chunk (whose digest is over the masked bytes) before
// rebuilding.
func MaskParity(key []byte, stripe, index int, buf []byte) error {
	info := binary.BigEndian.AppendUint64(nil, uint64(stripe))
	info = binary.BigEndian.AppendUint64(info, uint64(index))
	k, err := hkdf.Key(sha256.New, key, []byte("xftp parity mask v1"), string(info), 32)
	if err != nil {
		return err
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return err
	}
	cipher.NewCTR(block, make([]byte, aes.BlockSize)).XORKeyStream(buf, buf)
	return nil
}
