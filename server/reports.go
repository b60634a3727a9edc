package server

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/time/rate"

	"github.com/xftp/xftp/reports"
	"github.com/xftp/xftp/storage"
)

// DefaultReportsPerMinute is the global cap of accepted abuse reports per
// replica (a burst of as many), on top of the per-source limit of the
// HTTP binding. Reports of one chunk merge into one entry, so the store
// grows at most by this many entries a minute.
const DefaultReportsPerMinute = 120

func reportLimiter(perMinute int) *rate.Limiter {
	switch {
	case perMinute < 0:
		return nil
	case perMinute == 0:
		perMinute = DefaultReportsPerMinute
	}
	return rate.NewLimiter(rate.Limit(float64(perMinute)/60), perMinute)
}

// ReportRequest is an abuse report of one chunk.
type ReportRequest struct {
	Reason  string // spam, content, or another [a-z0-9_-]{1,32}
	Contact string // optional, for the moderator; stored only if given
}

// Report files an abuse report about the chunk named by recipientID, in
// a request signed by that recipient's key: only holders of a recipient
// description can report. Nothing about the requester is stored. A
// blocked chunk answers *blocklist.BlockedError, as every recipient
// request does. Reports of one chunk merge into one (see package reports).
func (s *Service) Report(ctx context.Context, recipientID []byte, req ReportRequest, a Auth) error {
	if s.reports == nil {
		return ErrNoReports
	}
	if !reports.ValidReason(req.Reason) {
		return fmt.Errorf("%w: reason", ErrSyntax)
	}
	if !reports.ValidContact(req.Contact) {
		return fmt.Errorf("%w: contact", ErrSyntax)
	}
	rec, err := s.authorize(ctx, recipientID, storage.RoleRecipient, a)
	if err != nil {
		return err
	}
	// After the signature: requests that cannot report do not spend the
	// budget of those who can.
	if s.reportLimit != nil && !s.reportLimit.Allow() {
		return ErrRateLimited
	}
	_, _, err = s.reports.Add(ctx, reports.Submission{
		ChunkKey: rec.Key, SenderID: rec.SenderID, Reason: req.Reason, Contact: req.Contact,
		At: s.now(), ExpiresAt: rec.ExpiresAt,
	})
	if err != nil {
		return unavailable(err)
	}
	s.metrics.Count(EventReported, 1)
	return nil
}

// ListReports pages through the open reports, oldest first.
func (m *Moderation) ListReports(ctx context.Context, cursor string, limit int) ([]*reports.Report, string, error) {
	s := m.s
	if s.reports == nil {
		return nil, "", ErrNoReports
	}
	rs, next, err := s.reports.List(ctx, cursor, limit)
	switch {
	case errors.Is(err, reports.ErrInvalidCursor):
		return nil, "", fmt.Errorf("%w: cursor", ErrSyntax)
	case err != nil:
		return nil, "", unavailable(err)
	}
	return rs, next, nil
}

// GetReport returns one report.
func (m *Moderation) GetReport(ctx context.Context, id []byte) (*reports.Report, error) {
	s := m.s
	if s.reports == nil {
		return nil, ErrNoReports
	}
	r, err := s.reports.Get(ctx, id)
	switch {
	case errors.Is(err, reports.ErrNotFound):
		return nil, ErrUnknownReport
	case err != nil:
		return nil, unavailable(err)
	}
	return r, nil
}

// BlockReport turns a report into a block in one step: it blocks the
// reported chunk as Block does (req.ID is ignored), then removes the
// report. A chunk that is gone (expired, deleted) answers ErrUnknownChunk
// and its report is removed as moot.
func (m *Moderation) BlockReport(ctx context.Context, id []byte, req BlockRequest) (*BlockCase, error) {
	s := m.s
	r, err := m.GetReport(ctx, id)
	if err != nil {
		return nil, err
	}
	req.ID, req.FromReport = r.SenderID, r.ID
	c, err := m.Block(ctx, req)
	if errors.Is(err, ErrUnknownChunk) {
		s.reports.Delete(ctx, r.ID)
	}
	if err != nil {
		return nil, err
	}
	s.metrics.Count(EventBlockedFromReport, 1)
	if err := s.reports.Delete(ctx, r.ID); err != nil && !errors.Is(err, reports.ErrNotFound) {
		s.log.Warn("removing a report after its block failed", "err", err)
	}
	return c, nil
}

// DismissReport removes a report without blocking; the chunk can be
// reported again. The dismissal is audited.
func (m *Moderation) DismissReport(ctx context.Context, id []byte) error {
	s := m.s
	r, err := m.GetReport(ctx, id)
	if err != nil {
		return err
	}
	if err := s.reports.Delete(ctx, r.ID); err != nil {
		if errors.Is(err, reports.ErrNotFound) {
			return ErrUnknownReport
		}
		return unavailable(err)
	}
	ev := AuditEvent{Time: s.now().UTC(), Action: "dismiss", Report: fmt.Sprintf("%x", r.ID)}
	if err := s.audit.Append(ctx, ev); err != nil {
		s.log.Error("a dismissed report could not be audited", "err", err)
	}
	return nil
}
