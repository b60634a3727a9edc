package httpclient

import (
	"context"
	"crypto/ed25519"
	"net/http"

	"github.com/xftp/xftp/api"
)

// Report files an abuse report about the chunk of recipientID, signed by
// its key. A blocked chunk is *blocklist.BlockedError; a refused rate is
// *Error with code RATE.
func (c *Client) Report(ctx context.Context, recipientID []byte, recipient ed25519.PrivateKey, reason, contact string) error {
	return c.sendJSON(ctx, http.MethodPost, chunkPath(recipientID, "/report"), recipientID, recipient,
		api.ReportRequest{Reason: reason, Contact: contact}, nil)
}
