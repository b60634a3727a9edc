package server

import (
	"context"
	"errors"
	"time"

	"github.com/xftp/xftp/storage"
)

// ChunkStatus is what a chunk's sender learns about it: whether its body
// is uploaded and its delivery receipts. Counts only: nothing says which
// recipient downloaded or acknowledged, and the padding IDs a client
// creates never download, so the counts are those of real recipients.
type ChunkStatus struct {
	Uploaded bool
	// RecipientIDs counts the chunk's recipient IDs ever created
	// (remaining plus acknowledged), padding included.
	RecipientIDs int
	// Downloaded counts recipient IDs that completed a download at least
	// once; Acked those removed by acknowledgement.
	Downloaded, Acked int
	ExpiresAt         time.Time
}

// Status answers the sender of the chunk named by senderID, in a request
// signed by the sender key. A blocked chunk answers
// *blocklist.BlockedError with the record signed for that sender ID, and
// an unknown, expired or deleted one ErrAuth, as every sender request does.
func (s *Service) Status(ctx context.Context, senderID []byte, a Auth) (*ChunkStatus, error) {
	rec, err := s.authorize(ctx, senderID, storage.RoleSender, a)
	if err != nil {
		return nil, err
	}
	return &ChunkStatus{
		Uploaded: rec.Uploaded, RecipientIDs: len(rec.Recipients) + rec.Acked,
		Downloaded: rec.Downloaded, Acked: rec.Acked, ExpiresAt: rec.ExpiresAt,
	}, nil
}

// recordDownload counts a completed download of recipientID for the
// sender's delivery receipts. A failure costs the receipt, never the
// download.
func (s *Service) recordDownload(ctx context.Context, key string, recipientID []byte) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := s.records.MarkDownloaded(ctx, key, recipientID); err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.log.Warn("recording a delivery receipt failed", "err", err)
	}
}
