package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// AuditEvent is one line of the takedown audit log: one change to the
// blocklist. It names the chunk by its internal storage key and a hash of
// its digest, never by a sender or recipient ID, and holds no addresses.
type AuditEvent struct {
	Time   time.Time `json:"time"`
	Action string    `json:"action"` // "block", "unblock", "appeal" or "dismiss"
	// Case is the block's case code (base64url), which is also the
	// appeal code in every record of the block.
	Case string `json:"case"`
	// Chunk is the internal storage key of the blocked chunk (block only).
	Chunk string `json:"chunk,omitempty"`
	// DigestHash is hex SHA-256 of the chunk's digest (block only).
	DigestHash   string   `json:"digest_hash,omitempty"`
	Reason       string   `json:"reason,omitempty"`
	Notice       string   `json:"notice,omitempty"`
	TTLSeconds   int64    `json:"ttl_seconds,omitempty"`
	Restrictions []string `json:"restrictions,omitempty"`
	// Keys is how many blocklist keys (IDs and the digest) changed.
	Keys int `json:"keys"`
	// Body says what happened to the chunk body: "deleted",
	// "quarantined", "none" (never uploaded) or "kept" (see the log).
	Body string `json:"body,omitempty"`
	// Report is the abuse report a block was made from or that was
	// dismissed (hex report ID).
	Report string `json:"report,omitempty"`
}

// AuditLog records blocklist changes. Append must make the event durable
// before it returns: the service undoes a change whose event it cannot
// record.
type AuditLog interface {
	Append(ctx context.Context, e AuditEvent) error
}

// FileAuditLog is an AuditLog in an append-only file of JSON lines, each
// synced to disk before Append returns.
type FileAuditLog struct {
	mu sync.Mutex
	f  *os.File
}

var _ AuditLog = (*FileAuditLog)(nil)

// OpenAuditLog opens (creating, mode 0600) the audit log at path for
// appending.
func OpenAuditLog(path string) (*FileAuditLog, error) {
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	if errors.Is(statErr, os.ErrNotExist) {
		// Make the new file's directory entry durable too.
		if d, err := os.Open(filepath.Dir(path)); err == nil {
			d.Sync()
			d.Close()
		}
	}
	return &FileAuditLog{f: f}, nil
}

// Append implements AuditLog.
func (l *FileAuditLog) Append(_ context.Context, e AuditEvent) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return errors.New("audit log: closed")
	}
	if _, err := l.f.Write(b); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	return nil
}

// Close closes the file.
func (l *FileAuditLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
