package server

import "github.com/xftp/xftp/identity"

// Moderation is the operator's side of the service: blocking chunks,
// reading and acting on abuse reports, and granting appeals
// (docs/TAKEDOWNS.md). It is its own type so that only the admin API is
// given it; the relay's public bindings get the Service, which has the
// data plane only.
type Moderation struct {
	s *Service
}

// NewModeration returns the moderation operations over svc's stores.
func NewModeration(svc *Service) *Moderation { return &Moderation{s: svc} }

// Identity is the server identity that signs blocking records and
// unblock proofs.
func (m *Moderation) Identity() *identity.Identity { return m.s.id }
