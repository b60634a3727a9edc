package storage

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"time"
)

// Errors that callers branch on. Backends translate their own errors
// (a missing file, redis.Nil, minio's NoSuchKey) into these.
var (
	ErrNotFound = errors.New("storage: not found")
	ErrExists   = errors.New("storage: already exists")
	ErrQuota    = errors.New("storage: quota exceeded")
	// ErrUnavailable wraps errors that mean a backend cannot be reached
	// right now; the request may succeed if retried later.
	ErrUnavailable = errors.New("storage: backend unavailable")
)

// Store keeps chunk bodies.
type Store interface {
	// Put stores exactly size bytes read from r under key. It is atomic:
	// if r fails, yields fewer bytes, or ctx ends, nothing is stored under
	// key (an earlier object under key is left as it was). A successful Put
	// is durable when it returns. Putting an existing key replaces it.
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// Get opens the body under key; ErrNotFound if there is none.
	Get(ctx context.Context, key string) (io.ReadCloser, int64, error)
	// Stat returns the size of the body under key; ErrNotFound if none.
	Stat(ctx context.Context, key string) (int64, error)
	// Delete removes the body under key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// List calls fn for every stored key, in no particular order, stopping
	// at fn's first error.
	List(ctx context.Context, fn func(key string) error) error
}

// Role says which party an ID belongs to.
type Role uint8

const (
	RoleSender Role = iota + 1
	RoleRecipient
)

// Recipient is one recipient ID of a chunk and the key that authorizes it.
type Recipient struct {
	ID  []byte
	Key ed25519.PublicKey
}

// Record describes one chunk.
type Record struct {
	// Key is the internal name of the chunk's body in the Store. It is
	// random and never sent to clients.
	Key        string
	SenderID   []byte
	SenderKey  ed25519.PublicKey
	Size       int64
	Digest     [32]byte
	Recipients []Recipient
	Uploaded   bool
	// Body is the Store name of the chunk's body once uploaded: each
	// upload attempt writes its own name (NewBodyName), and the record
	// points at the one that finished first, so a write cut off midway
	// or racing another never replaces a stored body, even on stores
	// whose writes are not atomic. Empty: Key (bodies stored before).
	Body      string
	CreatedAt time.Time
	ExpiresAt time.Time
	// Delivery receipts, for the sender's status request: Downloaded
	// counts the recipient IDs that completed a download at least once
	// (each once, acknowledged ones included), Acked the recipient IDs
	// removed by acknowledgement. Counts only: nothing says which
	// recipient. Lookup sets them; other methods may leave them zero.
	Downloaded int
	Acked      int
}

// Recipient returns the recipient with the given ID, if any.
func (r *Record) Recipient(id []byte) (Recipient, bool) {
	for _, rc := range r.Recipients {
		if string(rc.ID) == string(id) {
			return rc, true
		}
	}
	return Recipient{}, false
}

// BodyName returns the Store name of the record's body.
func (r *Record) BodyName() string {
	if r.Body != "" {
		return r.Body
	}
	return r.Key
}

// Usage is what a record store holds in all.
type Usage struct {
	Chunks int64
	// Bytes counts every created chunk's size, uploaded or not.
	Bytes int64
}

// Records keeps chunk records. Every method is atomic: two servers racing on
// one chunk cannot leave a record half-changed.
type Records interface {
	// Create stores rec, reserving rec.Size bytes of quota. It fails with
	// ErrQuota if the stored bytes would exceed quota (quota <= 0: no
	// limit) and with ErrExists if rec's key, any of its IDs or its sender
	// key is taken (a sender key names one chunk while its record lives);
	// ErrExists comes first, whatever the quota.
	Create(ctx context.Context, rec *Record, quota int64) error
	// BySenderKey returns the record created with sender key k, for a
	// create that is retried after its answer was lost; ErrNotFound if
	// there is none.
	BySenderKey(ctx context.Context, k ed25519.PublicKey) (*Record, error)
	// Lookup resolves a sender or recipient ID to its record in one round
	// trip; ErrNotFound if the ID is unknown. For a sender ID the record
	// holds every recipient, in the order they were added; for a
	// recipient ID it holds that recipient only, so that a download costs
	// the same whatever the chunk's audience.
	Lookup(ctx context.Context, id []byte) (*Record, Role, error)
	// AddRecipients adds recipients to the record with key; ErrNotFound if
	// there is no such record, ErrExists if an ID is taken (then none is added).
	AddRecipients(ctx context.Context, key string, rs []Recipient) error
	// SetUploaded marks the body of the record with key as stored under
	// the Store name body and returns body. If the record is marked
	// uploaded already, it changes nothing and returns the name the
	// record holds: the first attempt to finish wins, and a later one
	// deletes its own copy. ErrNotFound if there is no such record.
	SetUploaded(ctx context.Context, key, body string) (string, error)
	// RemoveRecipient removes one recipient ID (an acknowledgement) and
	// counts it in the record's Acked; ErrNotFound if absent.
	RemoveRecipient(ctx context.Context, key string, id []byte) error
	// MarkDownloaded records that recipient id of the record with key
	// completed a download. The record's Downloaded counts each recipient
	// ID once however often it downloads; first reports whether this was
	// its first. ErrNotFound if there is no such record or recipient.
	MarkDownloaded(ctx context.Context, key string, id []byte) (first bool, err error)
	// Delete removes the record with key and all its IDs and releases its
	// quota; it returns the removed record, or ErrNotFound.
	Delete(ctx context.Context, key string) (*Record, error)
	// DeleteUnuploaded is Delete for a record whose body is not marked
	// uploaded; ErrExists (and nothing removed) if it is. It undoes a
	// failed upload without undoing a retry that completed the same chunk.
	DeleteUnuploaded(ctx context.Context, key string) (*Record, error)
	// Expired returns up to limit records with ExpiresAt <= now.
	Expired(ctx context.Context, now time.Time, limit int) ([]*Record, error)
	// Has reports whether a record with key exists.
	Has(ctx context.Context, key string) (bool, error)
	// Usage returns the totals over all records.
	Usage(ctx context.Context) (Usage, error)
	// Ping checks that the backend is reachable.
	Ping(ctx context.Context) error
	Close() error
}

// NewKey returns a fresh random internal key.
func NewKey() string {
	var b [18]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// NewBodyName returns a fresh Store name for one attempt to store the
// body of the record with key: the key, a dot and 8 random characters.
func NewBodyName(key string) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return key + "." + base64.RawURLEncoding.EncodeToString(b[:])
}

// ValidName reports whether name is a Store name: a key (NewKey) or a
// body name (NewBodyName).
func ValidName(name string) bool {
	key, attempt, ok := strings.Cut(name, ".")
	if !ok {
		return ValidKey(name)
	}
	return ValidKey(key) && len(attempt) == 8 && validChars(attempt)
}

// KeyOf returns the record key a Store name belongs to.
func KeyOf(name string) string {
	key, _, _ := strings.Cut(name, ".")
	return key
}

// ValidKey reports whether key has the form NewKey makes. Backends use it
// to refuse names that could escape their namespace.
func ValidKey(key string) bool {
	return len(key) == 24 && validChars(key)
}

func validChars(key string) bool {
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
