package server

import (
	"context"
	"encoding/base64"
	"fmt"

	"github.com/xftp/xftp/blocklist"
)

// AppealRequest asks for an unblock proof for a case.
type AppealRequest struct {
	// Code is the case (appeal) code of the block.
	Code []byte
	// Unblock also lifts the block itself, after the proof is made.
	Unblock bool
	// Force issues the proof for a code that is not blocked (any more),
	// for example after an earlier unblock. Without it such a code is
	// ErrNotBlocked, which catches typing mistakes.
	Force bool
}

// Appeal is a granted appeal.
type Appeal struct {
	Proof *blocklist.SignedUnblockProof
	// Unblocked is the case that was unblocked, if the request asked.
	Unblocked *BlockCase
}

// GrantAppeal issues an unblock proof for a case: a record signed by the
// server identity that lifts, on clients given it, the restrictions they
// learnt from this server's records of that case and no others. It names
// no one. The grant is audited (and counted) before the proof is returned.
func (m *Moderation) GrantAppeal(ctx context.Context, req AppealRequest) (*Appeal, error) {
	s := m.s
	if s.blocks == nil {
		return nil, ErrNoBlocklist
	}
	if len(req.Code) != CaseCodeSize {
		return nil, fmt.Errorf("%w: a case code has %d bytes", ErrSyntax, CaseCodeSize)
	}
	es, err := s.caseEntries(ctx, req.Code)
	if err != nil {
		return nil, err
	}
	if len(es) == 0 && !req.Force {
		return nil, ErrNotBlocked
	}
	p, err := blocklist.SignUnblock(s.id, req.Code, s.now())
	if err != nil {
		return nil, err
	}
	ev := AuditEvent{Time: s.now().UTC(), Action: "appeal", Case: base64.RawURLEncoding.EncodeToString(req.Code)}
	if err := s.audit.Append(ctx, ev); err != nil {
		return nil, unavailable(fmt.Errorf("audit log: %w", err))
	}
	s.metrics.Count(EventAppealGranted, 1)
	out := &Appeal{Proof: p}
	if req.Unblock && len(es) > 0 {
		// The proof stands either way; Unblocked says whether this worked.
		if out.Unblocked, err = m.Unblock(ctx, req.Code); err != nil {
			s.log.Error("an appeal was granted but its case could not be unblocked", "err", err)
		}
	}
	return out, nil
}
