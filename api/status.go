package api

import (
	"context"
	"crypto/ed25519"
	"net/http"
	"time"
)

// StatusResponse answers POST /v1/chunks/{sender ID}/status, a request
// signed by the sender key with the body {}. Delivery receipts are counts,
// never which recipient: recipient_ids counts every recipient ID the chunk
// had (remaining and acknowledged, padding included), downloaded those
// that completed a download at least once, acked those acknowledged.
type StatusResponse struct {
	Uploaded     bool  `json:"uploaded"`
	RecipientIDs int   `json:"recipient_ids"`
	Downloaded   int   `json:"downloaded"`
	Acked        int   `json:"acked"`
	ExpiresAt    int64 `json:"expires_at"` // unix seconds
}

func (h *Handler) status(w http.ResponseWriter, r *http.Request) {
	setDeadlines(w, h.opts.RequestTimeout)
	id, a, ok := h.signed(w, r, nil)
	if !ok {
		return
	}
	st, err := h.svc.Status(r.Context(), id, a)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, StatusResponse{Uploaded: st.Uploaded, RecipientIDs: st.RecipientIDs,
		Downloaded: st.Downloaded, Acked: st.Acked, ExpiresAt: st.ExpiresAt.Unix()})
}

// ChunkStatus is the answer to Status.
type ChunkStatus struct {
	Uploaded                        bool
	RecipientIDs, Downloaded, Acked int
	ExpiresAt                       time.Time
}

// Status asks for a chunk's state and delivery receipts, as its sender. A
// blocked chunk is *blocklist.BlockedError (verified for senderID); an
// unknown, expired or deleted one is *Error with code AUTH.
func (c *Client) Status(ctx context.Context, senderID []byte, sender ed25519.PrivateKey) (*ChunkStatus, error) {
	var resp StatusResponse
	if err := c.sendJSON(ctx, http.MethodPost, chunkPath(senderID, "/status"), senderID, sender, struct{}{}, &resp); err != nil {
		return nil, err
	}
	return &ChunkStatus{Uploaded: resp.Uploaded, RecipientIDs: resp.RecipientIDs, Downloaded: resp.Downloaded,
		Acked: resp.Acked, ExpiresAt: time.Unix(resp.ExpiresAt, 0)}, nil
}
