package httpclient

import (
	"context"
	"crypto/ed25519"
	"net/http"
	"time"

	"github.com/xftp/xftp/api"
)

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
	var resp api.StatusResponse
	if err := c.sendJSON(ctx, http.MethodPost, chunkPath(senderID, "/status"), senderID, sender, struct{}{}, &resp); err != nil {
		return nil, err
	}
	return &ChunkStatus{Uploaded: resp.Uploaded, RecipientIDs: resp.RecipientIDs, Downloaded: resp.Downloaded,
		Acked: resp.Acked, ExpiresAt: time.Unix(resp.ExpiresAt, 0)}, nil
}
