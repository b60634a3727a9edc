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
	body, bc, err := s.openBody(ctx, rec)
	if err != nil {
		return nil, err
	}
	sr := stream.NewSealingReader(c, bc, rec.Size)
	sr.Check = func() error { return s.served(ctx, rec, recipientID, bc) }
	return &Download{
		ServerKey:    serverKey,
		KeySignature: s.id.Sign(dlcrypt.KeyMessage(serverKey, clientKey)),
		Size:         c.CiphertextSize(rec.Size),
		Body:         readCloser{sr, body},
	}, nil
}

// Body is a chunk's stored bytes, opened for a binding that seals them
// itself (XFTP's FGET has its own cipher).
type Body struct {
	// Size is the chunk's size: Body yields exactly that many bytes.
	Size int64
	// ReadCloser yields the chunk. Its last Read fails with ErrCorrupt
	// instead of io.EOF if the stored bytes do not match their checksum,
	// so a binding must not complete the answer before io.EOF. The
	// download counts (metrics, delivery receipt) at io.EOF. The caller
	// must close it.
	io.ReadCloser
}

// Open authorizes a recipient's request, as Download does, and opens the
// chunk's body unsealed.
func (s *Service) Open(ctx context.Context, recipientID []byte, a Auth) (*Body, error) {
	rec, err := s.authorize(ctx, recipientID, storage.RoleRecipient, a)
	if err != nil {
		return nil, err
	}
	if !rec.Uploaded {
		return nil, ErrNoChunk
	}
	body, bc, err := s.openBody(ctx, rec)
	if err != nil {
		return nil, err
	}
	cr := &checkedReader{r: bc, check: func() error { return s.served(ctx, rec, recipientID, bc) }}
	return &Body{Size: rec.Size, ReadCloser: readCloser{cr, body}}, nil
}

// openBody opens rec's stored body and its integrity check.
func (s *Service) openBody(ctx context.Context, rec *storage.Record) (io.ReadCloser, bodyCheck, error) {
	body, size, err := s.store.Get(ctx, rec.BodyName())
	switch {
	case errors.Is(err, storage.ErrNotFound):
		s.log.Error("a chunk marked uploaded has no body")
		return nil, bodyCheck{}, ErrCorrupt
	case err != nil:
		return nil, bodyCheck{}, unavailable(err)
	}
	bc, ok := checkBody(body, size, rec.Size, rec.Digest)
	if !ok {
		body.Close()
		s.log.Error("a stored chunk body has the wrong size")
		return nil, bodyCheck{}, ErrCorrupt
	}
	return body, bc, nil
}

// served runs when a download has read the whole body: it refuses a
// corrupt body and counts the download.
func (s *Service) served(ctx context.Context, rec *storage.Record, recipientID []byte, bc bodyCheck) error {
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

// checkedReader runs check once, at r's end, and fails that read instead
// of returning io.EOF if check fails.
type checkedReader struct {
	r     io.Reader
	check func() error
	done  bool
	err   error
}

func (c *checkedReader) Read(p []byte) (int, error) {
	if c.done {
		if c.err != nil {
			return 0, c.err
		}
		return 0, io.EOF
	}
	n, err := c.r.Read(p)
	if err == io.EOF {
		c.done, c.err = true, c.check()
		if c.err != nil {
			return n, c.err
		}
	}
	return n, err
}

type readCloser struct {
	io.Reader
	io.Closer
}
