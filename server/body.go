package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"hash"
	"hash/crc32"
	"io"
)

// A stored body is the chunk's bytes followed by a 4-byte trailer: their
// CRC-32C (Castagnoli), big-endian. Uploads are checked against the
// sender's SHA-256 digest while they stream in, and the trailer is written
// only once that check passed; downloads are checked against the trailer.
//
// The download check exists to catch storage that corrupted a body (bit
// rot, torn writes, a truncated object), never to authenticate it: whoever
// can rewrite the body can rewrite any checksum stored with it, and clients
// verify every chunk's SHA-256 end to end anyway. CRC-32C detects every
// burst of up to 32 bits and other corruption with probability 1 - 2^-32,
// and runs on the CPU's CRC32 instruction at many times SHA-256's speed;
// re-hashing with SHA-256 was a third of the server's CPU per download.
//
// Bodies stored before the trailer existed are exactly the chunk's size;
// they are checked against the SHA-256 digest as before.
const trailerSize = 4

// StoredSize is the size of the stored body of a chunk of size bytes: the
// chunk and its trailer.
func StoredSize(size int64) int64 { return size + trailerSize }

func newCRC() hash.Hash32 { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) }

// verifyingReader passes through exactly remaining bytes followed by their
// trailer, and fails the read that completes them if their SHA-256 is not
// want, so a store never commits a body with the wrong digest.
type verifyingReader struct {
	r         io.Reader
	remaining int64
	want      [32]byte
	h         hash.Hash
	crc       hash.Hash32
	trailer   []byte // pending trailer bytes, once the digest checked out
	err       error
}

func newVerifyingReader(r io.Reader, size int64, want [32]byte) *verifyingReader {
	return &verifyingReader{r: r, remaining: size, want: want, h: sha256.New(), crc: newCRC()}
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	if v.remaining == 0 {
		if len(v.trailer) == 0 {
			return 0, io.EOF
		}
		n := copy(p, v.trailer)
		v.trailer = v.trailer[n:]
		return n, nil
	}
	if int64(len(p)) > v.remaining {
		p = p[:v.remaining]
	}
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.crc.Write(p[:n])
	v.remaining -= int64(n)
	if v.remaining == 0 {
		// The body must end here: a longer one is the wrong size, not a
		// chunk with something after it.
		if err == nil {
			var probe [1]byte
			if m, _ := io.ReadFull(v.r, probe[:]); m > 0 {
				v.err = ErrSize
				return n, v.err
			}
		}
		var sum [32]byte
		if subtle.ConstantTimeCompare(v.h.Sum(sum[:0]), v.want[:]) != 1 {
			v.err = ErrDigest
			return n, v.err
		}
		v.trailer = binary.BigEndian.AppendUint32(nil, v.crc.Sum32())
		return n, nil
	}
	if err != nil {
		// A body that ends early or breaks off is the wrong size; the
		// connection's own error is not the client's business.
		v.err = ErrSize
		return n, v.err
	}
	return n, nil
}

// bodyCheck reads the chunk's bytes out of a stored body of StoredSize
// bytes and, once they are all read, tells whether they are intact.
type bodyCheck struct {
	io.Reader // the chunk's bytes
	intact    func() bool
}

// checkBody returns the check for a stored body of StoredSize bytes
// holding a chunk of size bytes with the given SHA-256 digest; ok is false
// if the body cannot be one (a wrong size).
func checkBody(body io.Reader, stored, size int64, digest [32]byte) (c bodyCheck, ok bool) {
	switch stored {
	case StoredSize(size):
		crc := newCRC()
		return bodyCheck{
			Reader: io.TeeReader(io.LimitReader(body, size), crc),
			intact: func() bool {
				var t [trailerSize]byte
				_, err := io.ReadFull(body, t[:])
				return err == nil && binary.BigEndian.Uint32(t[:]) == crc.Sum32()
			},
		}, true
	case size: // stored before the trailer existed
		h := sha256.New()
		return bodyCheck{
			Reader: io.TeeReader(body, h),
			intact: func() bool {
				var sum [32]byte
				return subtle.ConstantTimeCompare(h.Sum(sum[:0]), digest[:]) == 1
			},
		}, true
	}
	return bodyCheck{}, false
}
