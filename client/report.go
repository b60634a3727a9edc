package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/chunk"
	"github.com/xftp/xftp/reports"
)

// ReportResult is the outcome of reporting one chunk replica.
type ReportResult struct {
	Chunk  int // 1-based; parity chunks follow the data chunks
	Server string
	// Err is nil when the server took the report. A chunk that is
	// already blocked is *BlockedError, one that is gone (expired,
	// deleted, acknowledged) an *api.Error with code AUTH.
	Err error
}

// Report sends an abuse report about every chunk replica of a recipient
// description to the server that stores it, signed by that replica's
// recipient key: no account, nothing about the reporter but the optional
// contact. Reports are not retried, since servers rate-limit them. Report
// fails only for a description that is not a recipient's or an invalid
// reason or contact; per-server outcomes are in the results.
func Report(ctx context.Context, d *chunk.Description, reason, contact string, o Options) ([]ReportResult, error) {
	o.defaults()
	if err := d.Validate(); err != nil {
		return nil, err
	}
	if d.Party != chunk.PartyRecipient {
		return nil, errors.New("reports are made with a recipient's description (rcvN.xftp or a link), which proves you received the file")
	}
	if !reports.ValidReason(reason) {
		return nil, fmt.Errorf("reason %q: use spam, content, or another [a-z0-9_-] name of up to 32 characters", reason)
	}
	if !reports.ValidContact(contact) {
		return nil, fmt.Errorf("contact: at most %d bytes of printable text", reports.MaxContactSize)
	}
	type job struct {
		no  int
		rep chunk.Replica
	}
	var jobs []job
	for i, c := range append(append([]chunk.ChunkRef{}, d.Chunks...), d.Parity...) {
		for _, r := range c.Replicas {
			jobs = append(jobs, job{i + 1, r})
		}
	}
	// Reports go the way downloads do: through the proxies, if any, so
	// that a report does not hand a server the reporter's address next to
	// the recipient ID.
	p, err := newDownloadPool(&o)
	if err != nil {
		return nil, err
	}
	defer p.close()
	out := make([]ReportResult, len(jobs))
	total := len(d.Chunks) + len(d.Parity)
	err = forEach(ctx, len(jobs), o.Parallel, func(ctx context.Context, i int) error {
		j := jobs[i]
		out[i] = ReportResult{Chunk: j.no, Server: redact(j.rep.Server)}
		c, err := p.downloader(j.rep.Server)
		if err == nil {
			err = c.Report(ctx, j.rep.ID, j.rep.Key, reason, contact)
		}
		if be := o.blocked(err, j.rep.Server, "report", j.no, total); be != nil {
			err = be
		}
		out[i].Err = err
		return ctx.Err()
	})
	return out, err
}

// IsGone reports whether err means the chunk is gone (AUTH).
func IsGone(err error) bool {
	return errors.Is(err, api.ErrAuth)
}
