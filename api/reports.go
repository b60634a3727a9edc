package api

import (
	"context"
	"crypto/ed25519"
	"net/http"

	"github.com/xftp/xftp/server"
)

// ReportRequest is the body of POST /v1/chunks/{recipient ID}/report, an
// abuse report signed by the recipient key. The answer is {} whether or
// not the chunk was reported before, so reporters learn nothing about each
// other.
type ReportRequest struct {
	Reason  string `json:"reason"`            // spam, content or [a-z0-9_-]{1,32}
	Contact string `json:"contact,omitempty"` // optional, at most 256 bytes
}

// reportRetryAfter is what a refused report is told to wait.
const reportRetryAfter = "60"

func (h *Handler) report(w http.ResponseWriter, r *http.Request) {
	setDeadlines(w, h.opts.RequestTimeout)
	var req ReportRequest
	id, a, ok := h.signed(w, r, &req)
	if !ok {
		return
	}
	if err := h.svc.Report(r.Context(), id, server.ReportRequest{Reason: req.Reason, Contact: req.Contact}, a); err != nil {
		if status, _ := statusOf(err); status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", reportRetryAfter)
		}
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

// Report files an abuse report about the chunk of recipientID, signed by
// its key. A blocked chunk is *blocklist.BlockedError; a refused rate is
// *Error with code RATE.
func (c *Client) Report(ctx context.Context, recipientID []byte, recipient ed25519.PrivateKey, reason, contact string) error {
	return c.sendJSON(ctx, http.MethodPost, chunkPath(recipientID, "/report"), recipientID, recipient,
		ReportRequest{Reason: reason, Contact: contact}, nil)
}
