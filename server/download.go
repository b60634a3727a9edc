package server

import (
	"context"
	"errors"
	"io"

	"github.com/xftp/xftp/internal/dlcrypt"
	"github.com/xftp/xftp/internal/stream"
	"github.com/xftp/xftp/storage"
)

// Download is one chunk being served, sealed for one request.
type Download struct {
	// ServerKey is the server's ephemeral X25519 public key.
	ServerKey []byte
	// KeySignature is the identity key's signature binding ServerKey to
	// the client's key (dlcrypt.KeyMessage).
	KeySignature []byte
	// Size is the length of Body.
	Size int64
	// Body yields the sealed chunk. The caller must close it.
	Body io.ReadCloser
}

// Download opens the chunk named by recipientID, sealed to the client's
// ephemeral X25519 key. The body is checked against its stored checksum
// (body.go) while it streams: a corrupt body is never completed.
func (s *Service) Download(ctx context.Context, recipientID, clientKey []byte, a Auth) (*Download, error) {
	rec, err := s.authorize(ctx, recipientID, storage.RoleRecipient, a)
	if err != nil {
		return nil, err
	}
	if !rec.Uploaded {
		return nil, ErrNoChunk
	}
	serverKey, c, err := dlcrypt.ServerCipher(clientKey)
	if err != nil {
		return nil, ErrSyntax
	}
	body, size, err := s.store.Get(ctx, rec.Key)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		s.log.Error("a chunk marked uploaded has no body")
		return nil, ErrCorrupt
	case err != nil:
		return nil, unavailable(err)
	}
	bc, ok := checkBody(body, size, rec.Size, rec.Digest)
	if !ok {
		body.Close()
		s.log.Error("a stored chunk body has the wrong size")
		return nil, ErrCorrupt
	}
	sr := stream.NewSealingReader(c, bc, rec.Size)
	sr.Check = func() error {
		if !bc.intact() {
			s.log.Error("a stored chunk body does not match its checksum; not serving it")
			s.metrics.Count(EventCorrupt, 1)
			return ErrCorrupt
		}
		s.metrics.Count(EventDownloaded, 1)
		s.metrics.Bytes(EventDownloaded, rec.Size)
		s.recordDownload(ctx, rec.Key, recipientID) // delivery receipt: status.go
		return nil
	}
	return &Download{
		ServerKey:    serverKey,
		KeySignature: s.id.Sign(dlcrypt.KeyMessage(serverKey, clientKey)),
		Size:         c.CiphertextSize(rec.Size),
		Body:         readCloser{sr, body},
	}, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}
