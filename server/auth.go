package server

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"time"

	"github.com/xftp/xftp/blocklist"

	"github.com/xftp/xftp/storage"
)

// NonceSize is the size of a request nonce.
const NonceSize = 16

// Auth is a request's proof of authorization, as parsed by the binding:
// the exact bytes that were signed and the signature over them.
type Auth struct {
	// Message is the canonical request the client signed. It names this
	// server, so a request cannot be replayed at another server.
	Message   []byte
	Signature []byte
	Timestamp time.Time
	Nonce     []byte
	// SessionBound says the binding has bound Message to its transport
	// session instead (XFTP signs the TLS-unique or per-connection
	// session ID, so a request cannot be replayed on another connection):
	// there is no Timestamp to check and no Nonce to spend.
	SessionBound bool
}

// newDummyKey makes the key that stands in for the key of an unknown ID, so
// that a request naming an unknown ID costs the same signature check as one
// with a bad signature. It is random per process: nobody can sign for it,
// so requests for unknown IDs never spend nonces.
func newDummyKey() ed25519.PublicKey {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return pub
}

// checkClock refuses requests whose timestamps are outside the window. It
// runs before any lookup, so it reveals nothing about IDs.
func (s *Service) checkClock(a Auth) error {
	if a.SessionBound {
		return nil
	}
	d := s.now().Sub(a.Timestamp)
	if d > s.cfg.ClockSkew || d < -s.cfg.ClockSkew {
		return ErrClock
	}
	// Signed within the clock window before this process started: its
	// nonce may have been spent in the process before, whose nonces are
	// gone. (Older time stamps are outside the window anyway, unless the
	// clock jumped back; then they are new.)
	if epoch := s.epoch.Truncate(time.Second); a.Timestamp.Before(epoch) && !a.Timestamp.Before(epoch.Add(-s.cfg.ClockSkew)) {
		return ErrClock
	}
	return nil
}

// verify checks a's signature with key and spends its nonce.
func (s *Service) verify(ctx context.Context, key ed25519.PublicKey, a Auth) error {
	if len(key) != ed25519.PublicKeySize || len(a.Signature) != ed25519.SignatureSize ||
		!ed25519.Verify(key, a.Message, a.Signature) {
		return ErrAuth
	}
	if a.SessionBound {
		return nil
	}
	fresh, err := s.nonces.Use(ctx, a.Nonce, a.Timestamp.Add(2*s.cfg.ClockSkew))
	switch {
	case errors.Is(err, ErrRateLimited):
		return err // this source holds its share of the nonce cache
	case err != nil:
		return unavailable(err)
	}
	if !fresh {
		return ErrAuth
	}
	return nil
}

// authorize resolves id, which must belong to role, and checks that a is
// signed by its key. Unknown, expired and wrong-role IDs and bad
// signatures all give ErrAuth after the same work.
//
// A blocked id answers *blocklist.BlockedError, but only to a request
// signed by the blocked ID's own key (kept in the block entry): holding a
// blocked ID without its key gets AUTH, like a random ID, after the same
// lookups and one signature check. Entries stored before the key was kept
// answer any well-formed request, as they did then.
func (s *Service) authorize(ctx context.Context, id []byte, role storage.Role, a Auth) (*storage.Record, error) {
	if err := s.checkClock(a); err != nil {
		return nil, err
	}
	blocked, err := s.blockedEntry(ctx, id, role)
	if err != nil {
		return nil, err
	}
	rec, got, err := s.records.Lookup(ctx, id)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		rec = nil
	case err != nil:
		return nil, unavailable(err)
	}
	key := s.dummyKey
	switch {
	case blocked != nil && len(blocked.PublicKey) == 0:
		ed25519.Verify(s.dummyKey, a.Message, a.Signature) // same work as a refusal
		return nil, &blocklist.BlockedError{Record: blocked.Record}
	case blocked != nil:
		key, rec = blocked.PublicKey, nil
	case rec != nil && got == role && s.now().Before(rec.ExpiresAt):
		switch role {
		case storage.RoleSender:
			key = rec.SenderKey
		case storage.RoleRecipient:
			if rc, ok := rec.Recipient(id); ok {
				key = rc.Key
			}
		}
	default:
		rec = nil
	}
	if err := s.verify(ctx, key, a); err != nil {
		return nil, err
	}
	if blocked != nil {
		return nil, &blocklist.BlockedError{Record: blocked.Record}
	}
	if rec == nil {
		return nil, ErrAuth
	}
	return rec, nil
}

// unavailable marks err, a backend failure, as ErrUnavailable (503, logged
// as an error). A canceled context is not a backend failure: the client
// hung up (or the server is stopping), so it stays as it is.
func unavailable(err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	return errors.Join(ErrUnavailable, err)
}
