package blocklist

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/xftp/xftp/identity"
)

// Version is the only record version this package reads and writes.
const Version = 1

// Limits of the record fields; see the package documentation.
const (
	MaxChunkIDSize     = 255
	MaxReasonSize      = 32
	MaxNoticeSize      = 1024
	MaxRestrictions    = 16
	MaxRestrictionSize = 32
	AppealCodeSize     = 16
)

// Reason says why a chunk was blocked: ReasonSpam, ReasonContent or an
// operator-defined name of 1 to 32 characters from [a-z0-9_-].
type Reason string

// Reasons every client knows.
const (
	ReasonSpam    Reason = "spam"
	ReasonContent Reason = "content"
)

// Restriction tells the client what to stop doing beyond fetching the
// blocked chunk. Names are 1 to 32 characters from [a-z0-9_-]; clients
// ignore names they do not know, so new ones can be added without a new
// record version.
type Restriction string

// Restrictions every client knows.
const (
	// RestrictNoUploads asks the client to stop uploading to this operator.
	RestrictNoUploads Restriction = "no_uploads"
	// RestrictNoSenderFiles asks the client to refuse files from the same
	// sender that are relayed via this operator's servers.
	RestrictNoSenderFiles Restriction = "no_sender_files"
)

// Record is a blocking record before signing or after parsing.
type Record struct {
	Version int                  // always Version
	Server  identity.Fingerprint // the server identity that blocked
	// ChunkID is the ID the client used in its request (sender or
	// recipient ID), never another ID of the same chunk. It is empty only
	// in the digest template kept by a Store, which Verify never accepts.
	ChunkID   []byte
	Reason    Reason
	Notice    string    // optional, for people; at most MaxNoticeSize bytes of UTF-8
	BlockedAt time.Time // UTC, second precision
	// TTL is how long the Restrictions apply after BlockedAt; 0 means they
	// never expire. Second precision.
	TTL          time.Duration
	Restrictions []Restriction // sorted, unique
	AppealCode   []byte        // empty or AppealCodeSize bytes
}

// SignedRecord is a record with the server's signature over its canonical
// bytes.
type SignedRecord struct {
	Record    Record
	PublicKey ed25519.PublicKey // the signing key; its fingerprint is Record.Server
	Signature []byte            // ed25519.SignatureSize bytes
	Raw       []byte            // the canonical bytes that were signed
}

// Errors that Parse and Verify return; they are wrapped with detail, so
// test them with errors.Is.
var (
	// ErrMalformed means the bytes are not a well-formed, canonical record.
	ErrMalformed = errors.New("blocklist: malformed blocking record")
	// ErrBadSignature means the signature does not match the record.
	ErrBadSignature = errors.New("blocklist: bad blocking record signature")
	// ErrWrongServer means the record was not made by the pinned server.
	ErrWrongServer = errors.New("blocklist: blocking record from another server")
	// ErrWrongChunk means the record is for another chunk ID than the one
	// the client asked about.
	ErrWrongChunk = errors.New("blocklist: blocking record for another chunk")
)

// BlockedError reports that a chunk is blocked; it carries the signed
// record to show the client.
type BlockedError struct {
	Record *SignedRecord
}

func (e *BlockedError) Error() string {
	if e.Record == nil {
		return "blocked"
	}
	return e.Record.Record.String()
}

// Validate reports whether r can be encoded: Version is 1, every field is
// within its limits, BlockedAt and TTL have second precision and
// Restrictions are sorted and unique. Errors wrap ErrMalformed.
func (r Record) Validate() error {
	if r.Version != Version {
		return fmt.Errorf("%w: unknown version %d", ErrMalformed, r.Version)
	}
	if len(r.ChunkID) > MaxChunkIDSize {
		return fmt.Errorf("%w: chunk ID of %d bytes", ErrMalformed, len(r.ChunkID))
	}
	if !validName(string(r.Reason), MaxReasonSize) {
		return fmt.Errorf("%w: reason %q is not [a-z0-9_-]{1,%d}", ErrMalformed, r.Reason, MaxReasonSize)
	}
	if len(r.Notice) > MaxNoticeSize {
		return fmt.Errorf("%w: notice of %d bytes", ErrMalformed, len(r.Notice))
	}
	if !utf8.ValidString(r.Notice) {
		return fmt.Errorf("%w: notice is not UTF-8", ErrMalformed)
	}
	if r.BlockedAt.Unix() < 0 || r.BlockedAt.Nanosecond() != 0 {
		return fmt.Errorf("%w: blocked-at time must be whole seconds after 1970", ErrMalformed)
	}
	if r.TTL < 0 || r.TTL%time.Second != 0 {
		return fmt.Errorf("%w: TTL must be whole non-negative seconds", ErrMalformed)
	}
	if len(r.Restrictions) > MaxRestrictions {
		return fmt.Errorf("%w: %d restrictions", ErrMalformed, len(r.Restrictions))
	}
	for i, x := range r.Restrictions {
		if !validName(string(x), MaxRestrictionSize) {
			return fmt.Errorf("%w: restriction %q is not [a-z0-9_-]{1,%d}", ErrMalformed, x, MaxRestrictionSize)
		}
		if i > 0 && r.Restrictions[i-1] >= x {
			return fmt.Errorf("%w: restrictions not sorted and unique", ErrMalformed)
		}
	}
	if len(r.AppealCode) != 0 && len(r.AppealCode) != AppealCodeSize {
		return fmt.Errorf("%w: appeal code of %d bytes", ErrMalformed, len(r.AppealCode))
	}
	return nil
}

func validName(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Expired reports whether the record's restrictions no longer apply at now.
// A record with TTL 0 never expires. The chunk itself stays blocked.
func (r Record) Expired(now time.Time) bool {
	return r.TTL > 0 && !now.Before(r.BlockedAt.Add(r.TTL))
}

// String returns a one-line description for people, such as
// "blocked by AbCdEfGh for content: illegal material; restrictions: no uploads".
// Characters of the notice that are not printable are replaced, so the
// line is safe to show in a terminal.
func (r Record) String() string {
	var b strings.Builder
	b.WriteString("blocked by ")
	b.WriteString(r.Server.String()[:8])
	b.WriteString(" for ")
	b.WriteString(printable(string(r.Reason)))
	if r.Notice != "" {
		b.WriteString(": ")
		b.WriteString(printable(r.Notice))
	}
	if len(r.Restrictions) > 0 {
		b.WriteString("; restrictions: ")
		for i, x := range r.Restrictions {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(x.describe())
		}
		if r.TTL > 0 {
			b.WriteString(" until ")
			b.WriteString(r.BlockedAt.Add(r.TTL).UTC().Format(time.RFC3339))
		}
	}
	return b.String()
}

func (x Restriction) describe() string {
	switch x {
	case RestrictNoUploads:
		return "no uploads"
	case RestrictNoSenderFiles:
		return "no files from this sender"
	}
	return printable(string(x))
}

func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return unicode.ReplacementChar
	}, s)
}

// Sign makes a signed record from r with the identity key. It sets Version
// (if 0) and Server, truncates BlockedAt to whole seconds in UTC, and sorts
// and de-duplicates Restrictions; any other invalid field is an error.
// The returned record shares no memory with r.
func Sign(id *identity.Identity, r Record) (*SignedRecord, error) {
	if r.Version == 0 {
		r.Version = Version
	}
	r.Server = id.Fingerprint()
	r.BlockedAt = r.BlockedAt.UTC().Truncate(time.Second)
	r.Restrictions = slices.Compact(slices.Sorted(slices.Values(r.Restrictions)))
	if err := r.Validate(); err != nil {
		return nil, err
	}
	raw := appendRecord(nil, &r)
	dec, _, err := decodeRecord(raw)
	if err != nil { // cannot happen after Validate; keep the invariant explicit
		return nil, err
	}
	return &SignedRecord{
		Record:    dec,
		PublicKey: bytes.Clone(id.Public()),
		Signature: id.Sign(raw),
		Raw:       raw,
	}, nil
}

// wireTail is the size of what follows the canonical bytes on the wire.
const wireTail = ed25519.PublicKeySize + ed25519.SignatureSize

// Marshal returns the wire form: Raw || PublicKey || Signature. It uses the
// bytes that were signed, not s.Record, so editing s.Record after signing
// changes nothing.
func (s *SignedRecord) Marshal() []byte {
	b := make([]byte, 0, len(s.Raw)+wireTail)
	b = append(b, s.Raw...)
	b = append(b, s.PublicKey...)
	return append(b, s.Signature...)
}

// Parse decodes the wire form strictly: the record must be canonical and
// exactly one public key and one signature must follow it. Parse does not
// check the signature or who made it; use Verify for records received from
// a server. Errors wrap ErrMalformed. The result shares no memory with b.
func Parse(b []byte) (*SignedRecord, ed25519.PublicKey, error) {
	b = bytes.Clone(b)
	r, n, err := decodeRecord(b)
	if err != nil {
		return nil, nil, err
	}
	if len(b)-n != wireTail {
		return nil, nil, fmt.Errorf("%w: %d bytes after the record, want %d", ErrMalformed, len(b)-n, wireTail)
	}
	raw := b[:n:n]
	pub := ed25519.PublicKey(b[n : n+ed25519.PublicKeySize : n+ed25519.PublicKeySize])
	return &SignedRecord{
		Record:    r,
		PublicKey: pub,
		Signature: b[n+ed25519.PublicKeySize:],
		Raw:       raw,
	}, pub, nil
}

// Verify parses b and checks it is a record made by the server with
// fingerprint pinned for chunkID, the ID the client asked about: the
// embedded key and the record's Server must both match pinned
// (ErrWrongServer), the signature must be valid (ErrBadSignature) and the
// record's ChunkID must equal chunkID (ErrWrongChunk). Verify does not
// check expiry; see Record.Expired.
func Verify(b []byte, pinned identity.Fingerprint, chunkID []byte) (*SignedRecord, error) {
	s, pub, err := Parse(b)
	if err != nil {
		return nil, err
	}
	if !pinned.Matches(pub) {
		return nil, fmt.Errorf("%w: signing key is not %s", ErrWrongServer, pinned)
	}
	if s.Record.Server != pinned {
		return nil, fmt.Errorf("%w: record names %s, expected %s", ErrWrongServer, s.Record.Server, pinned)
	}
	if !ed25519.Verify(pub, s.Raw, s.Signature) {
		return nil, ErrBadSignature
	}
	if len(chunkID) == 0 || !bytes.Equal(s.Record.ChunkID, chunkID) {
		return nil, ErrWrongChunk
	}
	return s, nil
}
