package onion

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/xftp/xftp/internal/stream"
)

// Each proxy answers a layer with HTTP 200 and a STREAM (internal/stream,
// 64 KiB segments) sealed with the layer's response key. Its plaintext
// starts with one byte saying what follows.
const (
	// TypeRelayed: the rest is the next proxy's sealed answer.
	TypeRelayed byte = 1
	// TypeAnswer: an Answer header, then Answer.BodyLength bytes.
	TypeAnswer byte = 2
	// TypeRefused: a Refusal: the next hop refused or could not be reached.
	TypeRefused byte = 3
)

// MaxAnswerBody caps the body of a destination's answer that a proxy
// relays: the largest chunk sizes (64 MiB) plus transport overhead.
const MaxAnswerBody = 64<<20 + 64<<10

// ErrFrame means an answer frame is malformed.
var ErrFrame = errors.New("onion: malformed answer frame")

// AnswerSaltSize is the size of the salt that starts each proxy's answer.
const AnswerSaltSize = 32

const answerInfo = "xftp proxy answer v2"

// NewAnswerSalt returns a fresh random answer salt.
func NewAnswerSalt() []byte {
	salt := make([]byte, AnswerSaltSize)
	rand.Read(salt)
	return salt
}

// ResponseCipher returns the STREAM cipher of one answer: its key is
// HKDF-SHA256(response key, salt, "xftp proxy answer v2"), where salt is
// drawn by the proxy for each answer and sent in the clear before the
// stream. A replayed layer therefore never makes a proxy seal a second
// answer under the same key and nonces (which would reveal the XOR of the
// two plaintexts).
func ResponseCipher(key [ResponseKeySize]byte, salt []byte) (*stream.Cipher, error) {
	if len(salt) != AnswerSaltSize {
		return nil, fmt.Errorf("%w: answer salt", ErrFrame)
	}
	k, err := hkdf.Key(sha256.New, key[:], salt, answerInfo, 32)
	if err != nil {
		return nil, err
	}
	return stream.New(k, stream.DefaultSegmentSize)
}

// Answer is the destination's HTTP answer as the last proxy relays it.
type Answer struct {
	Status int
	// Date is the destination's clock (Unix seconds), for a client whose
	// clock is refused; 0 if unknown.
	Date int64
	// RetryAfter is the destination's Retry-After, in seconds.
	RetryAfter uint32
	// Identity is the destination's Ed25519 public key as the last proxy
	// verified it; the client checks it against the pinned fingerprint.
	Identity     []byte
	ServerKey    []byte // Xftp-Server-Key
	KeySignature []byte // Xftp-Key-Signature
	BodyLength   uint64
}

// Marshal encodes the answer header:
//
//	uint16 status || int64 date || uint32 retry-after ||
//	uint8 len || identity || uint8 len || server key || uint8 len || key signature ||
//	uint64 body length
func (a *Answer) Marshal() []byte {
	b := make([]byte, 0, 2+8+4+3+len(a.Identity)+len(a.ServerKey)+len(a.KeySignature)+8)
	b = binary.BigEndian.AppendUint16(b, uint16(a.Status))
	b = binary.BigEndian.AppendUint64(b, uint64(a.Date))
	b = binary.BigEndian.AppendUint32(b, a.RetryAfter)
	for _, f := range [][]byte{a.Identity, a.ServerKey, a.KeySignature} {
		b = append(b, byte(len(f)))
		b = append(b, f...)
	}
	return binary.BigEndian.AppendUint64(b, a.BodyLength)
}

// ReadAnswer reads an answer header from r.
func ReadAnswer(r io.Reader) (*Answer, error) {
	var fixed [14]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return nil, frameErr(err)
	}
	a := &Answer{Status: int(binary.BigEndian.Uint16(fixed[:])), Date: int64(binary.BigEndian.Uint64(fixed[2:])),
		RetryAfter: binary.BigEndian.Uint32(fixed[10:])}
	if a.Status < 100 || a.Status > 599 || a.Date < 0 {
		return nil, fmt.Errorf("%w: status or date", ErrFrame)
	}
	for i, max := range []int{32, 32, 64} {
		var n [1]byte
		if _, err := io.ReadFull(r, n[:]); err != nil {
			return nil, frameErr(err)
		}
		if int(n[0]) > max {
			return nil, fmt.Errorf("%w: field length", ErrFrame)
		}
		v := make([]byte, n[0])
		if _, err := io.ReadFull(r, v); err != nil {
			return nil, frameErr(err)
		}
		switch i {
		case 0:
			a.Identity = v
		case 1:
			a.ServerKey = v
		case 2:
			a.KeySignature = v
		}
	}
	var l [8]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return nil, frameErr(err)
	}
	if a.BodyLength = binary.BigEndian.Uint64(l[:]); a.BodyLength > MaxAnswerBody {
		return nil, fmt.Errorf("%w: body too large", ErrFrame)
	}
	return a, nil
}

// frameErr keeps stream and connection errors (a hop changed or cut the
// stream) apart from a well-sealed but malformed frame.
func frameErr(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%w: truncated", ErrFrame)
	}
	return err
}

// Refusal says that a proxy's next hop refused the request or could not be
// reached. Status is the next hop's HTTP status (0: not reached).
type Refusal struct {
	Status int
	Code   string // the next hop's error code, or UNREACHABLE
}

// Marshal encodes the refusal: uint16 status || uint8 len || code.
func (f *Refusal) Marshal() []byte {
	code := f.Code
	if len(code) > 64 {
		code = code[:64]
	}
	b := binary.BigEndian.AppendUint16(nil, uint16(f.Status))
	b = append(b, byte(len(code)))
	return append(b, code...)
}

// ReadRefusal reads a refusal from r.
func ReadRefusal(r io.Reader) (*Refusal, error) {
	var h [3]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, frameErr(err)
	}
	if h[2] > 64 {
		return nil, fmt.Errorf("%w: code length", ErrFrame)
	}
	code := make([]byte, h[2])
	if _, err := io.ReadFull(r, code); err != nil {
		return nil, frameErr(err)
	}
	for _, c := range code {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return nil, fmt.Errorf("%w: code", ErrFrame)
		}
	}
	s := int(binary.BigEndian.Uint16(h[:]))
	if s != 0 && (s < 100 || s > 599) {
		return nil, fmt.Errorf("%w: status", ErrFrame)
	}
	return &Refusal{Status: s, Code: string(code)}, nil
}
