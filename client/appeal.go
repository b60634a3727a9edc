package client

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/xftp/xftp/blocklist"
	"github.com/xftp/xftp/identity"
)

// liftedCase is one appeal granted to this client: restrictions learnt
// from the operator's records of that case are not recorded again (the
// chunk itself may stay blocked, and status checks would find it again).
type liftedCase struct {
	Server     string    `json:"server"` // fingerprint
	AppealCode []byte    `json:"appeal_code"`
	LiftedAt   time.Time `json:"lifted_at"`
	// ExpiresAt is when the lifted restrictions would have ended; the
	// entry is kept until then (zero: forever).
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

type liftedFile struct {
	Version int          `json:"version"`
	Lifted  []liftedCase `json:"lifted"`
}

// liftedPath is lifted.json next to the restriction store.
func (s *Restrictions) liftedPath() string { return filepath.Join(filepath.Dir(s.path), "lifted.json") }

func (s *Restrictions) loadLifted() ([]liftedCase, error) {
	var f liftedFile
	if _, err := (localFile{path: s.liftedPath(), version: 1}).load(&f); errors.Is(err, errDamagedState) {
		return nil, fmt.Errorf("%s is damaged; remove it", s.liftedPath())
	} else if err != nil {
		return nil, err
	}
	return f.Lifted, nil
}

// liftedCase reports whether an appeal for the case code of server was
// granted here. The caller holds s.mu.
func (s *Restrictions) liftedCase(server identity.Fingerprint, code []byte) bool {
	if len(code) == 0 {
		return false
	}
	ls, _ := s.loadLifted()
	for _, l := range ls {
		if l.Server == server.String() && bytes.Equal(l.AppealCode, code) {
			return true
		}
	}
	return false
}

// Errors of Lift.
var (
	// ErrNothingToLift: no restriction in force comes from the proof's
	// operator.
	ErrNothingToLift = errors.New("no restriction of this operator is in force")
)

// Lift verifies an unblock proof and lifts the restrictions it grants:
// those learnt from records of the proof's case by the proof's operator.
// The proof must be signed by the key whose fingerprint the restriction
// names (a forged proof, or one re-targeted at another operator, fails
// with blocklist.ErrBadSignature or ErrWrongServer) and must name the
// restriction's appeal code (one for another case fails with
// blocklist.ErrWrongCase). Later records of that case are not recorded
// again. It returns the lifted restrictions.
func (s *Restrictions) Lift(p *blocklist.SignedUnblockProof) ([]Restriction, error) {
	// The proof must at least be what it claims to be.
	if err := blocklist.VerifyUnblock(p, p.Proof.Server, p.Proof.AppealCode); err != nil {
		return nil, fmt.Errorf("the unblock proof is not valid: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rs, err := s.load()
	if err != nil {
		return nil, err
	}
	var lifted, kept []Restriction
	var wrong error
	fromOperator := false
	for _, r := range rs {
		fp, err := identity.ParseFingerprint(r.Server)
		if err != nil || fp != p.Proof.Server {
			kept = append(kept, r)
			continue
		}
		fromOperator = true
		// Verified against the restriction's own operator and case.
		if err := blocklist.VerifyUnblock(p, fp, r.AppealCode); err != nil {
			wrong = err
			kept = append(kept, r)
			continue
		}
		lifted = append(lifted, r)
	}
	switch {
	case len(lifted) == 0 && fromOperator && wrong != nil:
		return nil, fmt.Errorf("the unblock proof is for another case of operator %s; nothing lifted: %w", p.Proof.Server, wrong)
	case len(lifted) == 0:
		return nil, fmt.Errorf("%w (operator %s)", ErrNothingToLift, p.Proof.Server)
	}
	if err := s.save(kept); err != nil {
		return nil, err
	}
	l := liftedCase{Server: p.Proof.Server.String(), AppealCode: bytes.Clone(p.Proof.AppealCode), LiftedAt: s.now().UTC()}
	for _, r := range lifted {
		if r.ExpiresAt.IsZero() {
			l.ExpiresAt = time.Time{}
			break
		}
		if r.ExpiresAt.After(l.ExpiresAt) {
			l.ExpiresAt = r.ExpiresAt
		}
	}
	ls, _ := s.loadLifted()
	now := s.now()
	ls = slices.DeleteFunc(ls, func(o liftedCase) bool { return !o.ExpiresAt.IsZero() && !now.Before(o.ExpiresAt) })
	ls = append(ls, l)
	if err := (localFile{path: s.liftedPath(), version: 1}).save(liftedFile{Version: 1, Lifted: ls}); err != nil {
		return lifted, fmt.Errorf("the restriction is lifted, but remembering the appeal failed: %w", err)
	}
	return lifted, nil
}
