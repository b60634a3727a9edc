package blocklist

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// KeyKind says which identifier of a chunk a Key holds.
type KeyKind byte

// Key kinds. Their values are stored; do not renumber them.
const (
	KindSender    KeyKind = 1 // the chunk's sender ID
	KindRecipient KeyKind = 2 // one of the chunk's recipient IDs
	KindDigest    KeyKind = 3 // the digest of the chunk's contents
)

func (k KeyKind) String() string {
	switch k {
	case KindSender:
		return "sender"
	case KindRecipient:
		return "recipient"
	case KindDigest:
		return "digest"
	}
	return fmt.Sprintf("KeyKind(%d)", byte(k))
}

func (k KeyKind) valid() bool { return k == KindSender || k == KindRecipient || k == KindDigest }

// MaxKeySize is the largest Key.Value a store accepts.
const MaxKeySize = MaxChunkIDSize

// Key is one identifier under which a chunk is blocked.
type Key struct {
	Kind  KeyKind
	Value []byte
}

// Hash is what stores use in place of the key, so that key names in Redis
// or bbolt do not show the IDs themselves.
func (k Key) Hash() [sha256.Size]byte { return sha256.Sum256(k.Value) }

func (k Key) validate() error {
	if !k.Kind.valid() {
		return fmt.Errorf("%w: kind %d", ErrInvalidKey, byte(k.Kind))
	}
	if len(k.Value) == 0 || len(k.Value) > MaxKeySize {
		return fmt.Errorf("%w: %s key of %d bytes", ErrInvalidKey, k.Kind, len(k.Value))
	}
	return nil
}

// Entry is a blocked key with the record to answer requests under it.
type Entry struct {
	Key Key
	// Record is signed for Key: its ChunkID is Key.Value for sender and
	// recipient keys, and empty for a digest key (a template the server
	// re-signs for the ID of each request; see the package documentation).
	Record *SignedRecord
	// PublicKey is the Ed25519 key of the blocked sender or recipient ID
	// (empty for digest keys, and in entries stored before it was kept):
	// the server answers with Record only requests signed by it, so that
	// holding a blocked ID without its key reveals nothing.
	PublicKey ed25519.PublicKey
}

func (e *Entry) validate() error {
	if err := e.Key.validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidEntry, err)
	}
	if e.Record == nil {
		return fmt.Errorf("%w: %s entry without a record", ErrInvalidEntry, e.Key.Kind)
	}
	if len(e.PublicKey) != 0 && (len(e.PublicKey) != ed25519.PublicKeySize || e.Key.Kind == KindDigest) {
		return fmt.Errorf("%w: %s entry with a public key of %d bytes", ErrInvalidEntry, e.Key.Kind, len(e.PublicKey))
	}
	want := e.Key.Value
	if e.Key.Kind == KindDigest {
		want = nil
	}
	if !bytes.Equal(e.Record.Record.ChunkID, want) {
		return fmt.Errorf("%w: record of a %s entry names another chunk ID", ErrInvalidEntry, e.Key.Kind)
	}
	return nil
}

// Store errors.
var (
	// ErrNotBlocked means none of the keys is blocked.
	ErrNotBlocked = errors.New("blocklist: not blocked")
	// ErrInvalidEntry means Block was given an entry it must not store.
	ErrInvalidEntry = errors.New("blocklist: invalid entry")
	// ErrInvalidKey means a key has an unknown kind or a value that is
	// empty or longer than MaxKeySize.
	ErrInvalidKey = errors.New("blocklist: invalid key")
	// ErrInvalidCursor means List was given a cursor it did not return.
	ErrInvalidCursor = errors.New("blocklist: invalid cursor")
)

// DefaultListLimit is the page size List uses when limit is not positive;
// MaxListLimit caps it.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// Store keeps blocked keys and their signed records. Implementations are
// safe for concurrent use.
type Store interface {
	// Block stores all entries in one atomic step: afterwards either all
	// keys are blocked or, on error, none of the writes happened. A key
	// that is already blocked gets the new entry; if a key repeats within
	// entries, the last one wins. Each entry's record must be signed for
	// its key (see Entry); otherwise Block stores nothing and returns an
	// error wrapping ErrInvalidEntry.
	Block(ctx context.Context, entries []Entry) error

	// Lookup returns the entry of the first key, in the order given, that
	// is blocked, in a single round trip to the backend. It returns
	// ErrNotBlocked if none is (or no keys are given), and an error
	// wrapping ErrInvalidKey if a key is invalid.
	Lookup(ctx context.Context, keys ...Key) (*Entry, error)

	// Unblock removes the entries of keys atomically. Keys that are not
	// blocked are ignored; an invalid key is an error wrapping
	// ErrInvalidKey, and then nothing is removed.
	Unblock(ctx context.Context, keys ...Key) error

	// List returns up to limit entries (DefaultListLimit if limit <= 0, at
	// most MaxListLimit) that follow cursor in a stable order; cursor ""
	// starts at the beginning. next is the cursor for the following page,
	// or "" after the last page. Entries blocked or unblocked while
	// paging may or may not be seen, but no entry is returned twice.
	// A cursor not returned by List yields ErrInvalidCursor.
	List(ctx context.Context, cursor string, limit int) (entries []Entry, next string, err error)

	// Close releases the store's own resources. It does not close the
	// bbolt database or Redis client the store was made with.
	Close() error
}

func ListLimit(limit int) int {
	if limit <= 0 {
		return DefaultListLimit
	}
	return min(limit, MaxListLimit)
}

// Formats of a stored entry, its first byte, so that the format can
// change: 1 has no public key, 2 has one (possibly empty).
const (
	entryFormat1 = 1
	entryFormat  = 2
)

// MarshalEntry returns the stored form of e:
// format (1) || kind (1) || uint16 key length || key
// || uint8 public key length || public key || record wire form.
// The record is stored whole, so what clients get is what was signed.
func MarshalEntry(e *Entry) []byte {
	w := e.Record.Marshal()
	b := make([]byte, 0, 5+len(e.Key.Value)+len(e.PublicKey)+len(w))
	b = append(b, entryFormat, byte(e.Key.Kind))
	b = binary.BigEndian.AppendUint16(b, uint16(len(e.Key.Value)))
	b = append(b, e.Key.Value...)
	b = append(b, byte(len(e.PublicKey)))
	b = append(b, e.PublicKey...)
	return append(b, w...)
}

// UnmarshalEntry decodes a stored entry (either format); the result shares
// no memory with b.
func UnmarshalEntry(b []byte) (*Entry, error) {
	if len(b) < 4 || b[0] != entryFormat && b[0] != entryFormat1 {
		return nil, fmt.Errorf("blocklist: stored entry: %w", ErrMalformed)
	}
	kind := KeyKind(b[1])
	n := int(binary.BigEndian.Uint16(b[2:]))
	if len(b)-4 < n {
		return nil, fmt.Errorf("blocklist: stored entry: %w", ErrMalformed)
	}
	e := &Entry{Key: Key{Kind: kind, Value: bytes.Clone(b[4 : 4+n])}}
	rest := b[4+n:]
	if b[0] == entryFormat {
		if len(rest) < 1 || len(rest)-1 < int(rest[0]) {
			return nil, fmt.Errorf("blocklist: stored entry: %w", ErrMalformed)
		}
		if k := int(rest[0]); k > 0 {
			e.PublicKey = bytes.Clone(rest[1 : 1+k])
		}
		rest = rest[1+int(rest[0]):]
	}
	rec, _, err := Parse(rest)
	if err != nil {
		return nil, fmt.Errorf("blocklist: stored entry: %w", err)
	}
	e.Record = rec
	if err := e.validate(); err != nil {
		return nil, fmt.Errorf("blocklist: stored entry: %w", err)
	}
	return e, nil
}

func ValidateEntries(entries []Entry) error {
	for i := range entries {
		if err := entries[i].validate(); err != nil {
			return err
		}
	}
	return nil
}

func ValidateKeys(keys []Key) error {
	for _, k := range keys {
		if err := k.validate(); err != nil {
			return err
		}
	}
	return nil
}
