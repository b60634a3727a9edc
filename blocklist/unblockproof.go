package blocklist

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/xftp/xftp/identity"
)

// An unblock proof grants an appeal: the operator states, signed by the
// server identity, that the restrictions asked for by the blocking records
// with one appeal code no longer apply. It names the server and the appeal
// code and nothing else, so it identifies nobody and lifts only the
// restrictions learnt from that operator's records of that case.
//
// Canonical bytes (big-endian):
//
//	context      22 bytes  "xftp unblock proof v1\x00"
//	version       1 byte   1
//	server       32 bytes  identity.Fingerprint of the signing key
//	appeal_code  16 bytes  the AppealCode of the blocking records
//	granted_at    8 bytes  uint64, Unix seconds
//
// Wire form: canonical bytes (79) || Ed25519 public key (32) || signature
// (64) over the canonical bytes: 175 bytes. Text form: "xftp:unblock:"
// followed by the wire form in unpadded base64url.

// unblockContext starts the canonical bytes of every unblock proof; it
// differs from every other message the identity key signs.
const unblockContext = "xftp unblock proof v1\x00"

// UnblockProofPrefix starts the text form of an unblock proof.
const UnblockProofPrefix = "xftp:unblock:"

// unblockSize is the length of the canonical bytes of a proof.
const unblockSize = len(unblockContext) + 1 + 32 + AppealCodeSize + 8

// UnblockProofSize is the length of a proof's wire form.
const UnblockProofSize = unblockSize + wireTail

// Errors of unblock proofs; Parse and Verify wrap them.
var (
	// ErrMalformedProof means the bytes are not a canonical unblock proof.
	ErrMalformedProof = errors.New("blocklist: malformed unblock proof")
	// ErrWrongCase means the proof is for another appeal code than the
	// one of the restriction it was meant to lift.
	ErrWrongCase = errors.New("blocklist: unblock proof for another case")
)

// UnblockProof is a proof before signing or after parsing.
type UnblockProof struct {
	Version    int
	Server     identity.Fingerprint
	AppealCode []byte    // AppealCodeSize bytes
	GrantedAt  time.Time // UTC, second precision
}

// SignedUnblockProof is a proof with the server's signature.
type SignedUnblockProof struct {
	Proof     UnblockProof
	PublicKey ed25519.PublicKey
	Signature []byte
	Raw       []byte // the canonical bytes that were signed
}

func appendUnblock(b []byte, p *UnblockProof) []byte {
	b = append(b, unblockContext...)
	b = append(b, byte(p.Version))
	b = append(b, p.Server[:]...)
	b = append(b, p.AppealCode...)
	return binary.BigEndian.AppendUint64(b, uint64(p.GrantedAt.Unix()))
}

func (p UnblockProof) validate() error {
	if p.Version != Version {
		return fmt.Errorf("%w: unknown version %d", ErrMalformedProof, p.Version)
	}
	if len(p.AppealCode) != AppealCodeSize {
		return fmt.Errorf("%w: appeal code of %d bytes", ErrMalformedProof, len(p.AppealCode))
	}
	if p.GrantedAt.Unix() < 0 || p.GrantedAt.Nanosecond() != 0 {
		return fmt.Errorf("%w: granted-at time must be whole seconds after 1970", ErrMalformedProof)
	}
	return nil
}

// SignUnblock makes a proof for appealCode, granted at grantedAt
// (truncated to seconds), signed by id.
func SignUnblock(id *identity.Identity, appealCode []byte, grantedAt time.Time) (*SignedUnblockProof, error) {
	p := UnblockProof{Version: Version, Server: id.Fingerprint(), AppealCode: bytes.Clone(appealCode),
		GrantedAt: grantedAt.UTC().Truncate(time.Second)}
	if err := p.validate(); err != nil {
		return nil, err
	}
	raw := appendUnblock(nil, &p)
	return &SignedUnblockProof{Proof: p, PublicKey: bytes.Clone(id.Public()), Signature: id.Sign(raw), Raw: raw}, nil
}

// Marshal returns the wire form: Raw || PublicKey || Signature.
func (s *SignedUnblockProof) Marshal() []byte {
	b := make([]byte, 0, len(s.Raw)+wireTail)
	b = append(b, s.Raw...)
	b = append(b, s.PublicKey...)
	return append(b, s.Signature...)
}

// String returns the text form, "xftp:unblock:<base64url>".
func (s *SignedUnblockProof) String() string {
	return UnblockProofPrefix + base64.RawURLEncoding.EncodeToString(s.Marshal())
}

// ParseUnblockProof decodes the wire form strictly; it does not check the
// signature (see VerifyUnblock). Errors wrap ErrMalformedProof. The result
// shares no memory with b.
func ParseUnblockProof(b []byte) (*SignedUnblockProof, error) {
	if len(b) != UnblockProofSize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrMalformedProof, len(b), UnblockProofSize)
	}
	b = bytes.Clone(b)
	if !bytes.HasPrefix(b, []byte(unblockContext)) {
		return nil, fmt.Errorf("%w: not an unblock proof", ErrMalformedProof)
	}
	off := len(unblockContext)
	p := UnblockProof{Version: int(b[off])}
	off++
	copy(p.Server[:], b[off:off+32])
	off += 32
	p.AppealCode = b[off : off+AppealCodeSize : off+AppealCodeSize]
	off += AppealCodeSize
	at := binary.BigEndian.Uint64(b[off:])
	if at > math.MaxInt64 {
		return nil, fmt.Errorf("%w: granted-at time out of range", ErrMalformedProof)
	}
	p.GrantedAt = time.Unix(int64(at), 0).UTC()
	if err := p.validate(); err != nil {
		return nil, err
	}
	return &SignedUnblockProof{
		Proof:     p,
		Raw:       b[:unblockSize:unblockSize],
		PublicKey: ed25519.PublicKey(b[unblockSize : unblockSize+ed25519.PublicKeySize : unblockSize+ed25519.PublicKeySize]),
		Signature: b[unblockSize+ed25519.PublicKeySize:],
	}, nil
}

// ParseUnblockText decodes the text form ("xftp:unblock:..."; surrounding
// white space is ignored).
func ParseUnblockText(s string) (*SignedUnblockProof, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), UnblockProofPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: does not start with %s", ErrMalformedProof, UnblockProofPrefix)
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("%w: not unpadded base64url", ErrMalformedProof)
	}
	return ParseUnblockProof(b)
}

// VerifyUnblock checks that p was made by the server with fingerprint
// pinned for appealCode: the key and the proof's Server must match pinned
// (ErrWrongServer), the signature must verify (ErrBadSignature) and the
// proof must name appealCode (ErrWrongCase). Binding both the server and
// the case means a proof lifts exactly the restrictions of one operator's
// block, never another case of that operator or another operator's.
func VerifyUnblock(p *SignedUnblockProof, pinned identity.Fingerprint, appealCode []byte) error {
	if !pinned.Matches(p.PublicKey) {
		return fmt.Errorf("%w: signing key is not %s", ErrWrongServer, pinned)
	}
	if p.Proof.Server != pinned {
		return fmt.Errorf("%w: proof names %s, expected %s", ErrWrongServer, p.Proof.Server, pinned)
	}
	if !ed25519.Verify(p.PublicKey, p.Raw, p.Signature) {
		return ErrBadSignature
	}
	if len(appealCode) != AppealCodeSize || !bytes.Equal(p.Proof.AppealCode, appealCode) {
		return ErrWrongCase
	}
	return nil
}
