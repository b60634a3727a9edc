package reports

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits of what a report keeps.
const (
	IDSize         = 16
	MaxReasonSize  = 32
	MaxContactSize = 256
	// MaxContacts is how many distinct contacts one report keeps; later
	// ones are dropped (the count still grows).
	MaxContacts = 8
	// MaxReasons is how many distinct reasons one report counts; later
	// new ones are counted under "other".
	MaxReasons = 8
)

// DefaultListLimit is the page size of List when limit is not positive;
// MaxListLimit caps it.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// Errors that callers branch on.
var (
	ErrNotFound      = errors.New("reports: no such report")
	ErrInvalid       = errors.New("reports: invalid report")
	ErrInvalidCursor = errors.New("reports: invalid cursor")
)

// Report is everything filed about one chunk.
type Report struct {
	// ID names the report for moderators: 8 bytes of the first report's
	// time (Unix ms, big-endian) and 8 random bytes, so IDs sort by age.
	ID []byte
	// ChunkKey is the chunk's internal storage key; reports are merged by it.
	ChunkKey string
	// SenderID lets a moderator block the chunk; never shown.
	SenderID []byte
	Count    int            // reports received
	Reasons  map[string]int // reports per reason
	Contacts []string       // distinct contacts given, at most MaxContacts, oldest first
	FirstAt  time.Time      // millisecond precision
	LastAt   time.Time
	// ExpiresAt is the chunk's expiry; the report goes with it.
	ExpiresAt time.Time
}

// Submission is one report as received.
type Submission struct {
	ChunkKey  string
	SenderID  []byte
	Reason    string // [a-z0-9_-]{1,32}
	Contact   string // optional; printable UTF-8, at most MaxContactSize bytes
	At        time.Time
	ExpiresAt time.Time
}

// Store keeps reports. Implementations are safe for concurrent use.
type Store interface {
	// Add files s atomically: the first report of s.ChunkKey makes a new
	// Report; later ones are merged into it (Count grows, the reason is
	// counted, the contact kept if new and fewer than MaxContacts are
	// kept, LastAt moves). It returns the report after the change and
	// whether it is new. An invalid submission is an error wrapping
	// ErrInvalid.
	Add(ctx context.Context, s Submission) (r *Report, created bool, err error)
	// Get returns the report with id; ErrNotFound if there is none or it
	// has expired.
	Get(ctx context.Context, id []byte) (*Report, error)
	// List returns up to limit reports (DefaultListLimit if limit <= 0, at
	// most MaxListLimit), oldest first, after cursor ("" starts at the
	// beginning), and the cursor of the next page ("" after the last).
	// Expired reports are left out. A cursor not returned by List yields
	// ErrInvalidCursor.
	List(ctx context.Context, cursor string, limit int) (rs []*Report, next string, err error)
	// Delete removes the report with id, so that the chunk can be
	// reported afresh; ErrNotFound if there is none.
	Delete(ctx context.Context, id []byte) error
	// Close releases the store's own resources, not the database or
	// client it was made with.
	Close() error
}

// ValidReason reports whether s is a reason name: [a-z0-9_-]{1,32}.
func ValidReason(s string) bool {
	if len(s) == 0 || len(s) > MaxReasonSize {
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

// ValidContact reports whether s can be kept as a contact: at most
// MaxContactSize bytes of printable UTF-8 (empty means none).
func ValidContact(s string) bool {
	if len(s) > MaxContactSize || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

func (s *Submission) Validate() error {
	switch {
	case s.ChunkKey == "" || len(s.ChunkKey) > 64:
		return fmt.Errorf("%w: chunk key", ErrInvalid)
	case len(s.SenderID) == 0 || len(s.SenderID) > 255:
		return fmt.Errorf("%w: sender ID", ErrInvalid)
	case !ValidReason(s.Reason):
		return fmt.Errorf("%w: reason %q is not [a-z0-9_-]{1,%d}", ErrInvalid, s.Reason, MaxReasonSize)
	case !ValidContact(s.Contact):
		return fmt.Errorf("%w: contact must be at most %d bytes of printable UTF-8", ErrInvalid, MaxContactSize)
	case s.At.IsZero() || !s.ExpiresAt.After(s.At):
		return fmt.Errorf("%w: a report must be made before its chunk expires", ErrInvalid)
	}
	return nil
}

// NewID makes a report ID for a first report at t.
func NewID(t time.Time) []byte {
	id := make([]byte, IDSize)
	binary.BigEndian.PutUint64(id, uint64(t.UnixMilli()))
	rand.Read(id[8:])
	return id
}

// Merge applies s to r (a report of the same chunk), as every store does.
func (r *Report) Merge(s *Submission) {
	r.Count++
	if r.Reasons == nil {
		r.Reasons = map[string]int{}
	}
	reason := s.Reason
	if _, ok := r.Reasons[reason]; !ok && len(r.Reasons) >= MaxReasons {
		reason = "other"
	}
	r.Reasons[reason]++
	if s.Contact != "" && len(r.Contacts) < MaxContacts {
		seen := false
		for _, c := range r.Contacts {
			seen = seen || c == s.Contact
		}
		if !seen {
			r.Contacts = append(r.Contacts, s.Contact)
		}
	}
	at := s.At.Truncate(time.Millisecond)
	if at.After(r.LastAt) {
		r.LastAt = at
	}
}

func ListLimit(limit int) int {
	if limit <= 0 {
		return DefaultListLimit
	}
	return min(limit, MaxListLimit)
}

func ParseCursor(c string) ([]byte, error) {
	b, err := hex.DecodeString(c)
	if err != nil || len(b) != IDSize {
		return nil, ErrInvalidCursor
	}
	return b, nil
}
