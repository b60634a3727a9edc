package client

import (
	"context"
	"crypto/ed25519"
	"io"

	"github.com/xftp/xftp/api/xftp"
	"github.com/xftp/xftp/api/xftpclient"
)

// dialXFTP connects to an XFTP server as SimpleX's native client does
// (api/xftpclient): the server's identity is checked against the
// address's key hash.
func dialXFTP(ctx context.Context, addr xftp.Address) (xftpServer, error) {
	c, err := xftpclient.Dial(ctx, addr, xftpclient.Options{})
	if err != nil {
		return nil, err
	}
	return &xftpClientConn{c: c, password: addr.Password}, nil
}

// xftpClientConn adapts an xftpclient.Client to the transfers' interface.
type xftpClientConn struct {
	c        *xftpclient.Client
	password string
}

func (x *xftpClientConn) create(ctx context.Context, sender ed25519.PrivateKey, size int64, digest []byte, recipients []ed25519.PublicKey) ([]byte, [][]byte, error) {
	return x.c.Create(ctx, sender, uint32(size), digest, recipients, x.password)
}

func (x *xftpClientConn) addRecipients(ctx context.Context, sender ed25519.PrivateKey, sndID []byte, recipients []ed25519.PublicKey) ([][]byte, error) {
	return x.c.AddRecipients(ctx, sender, sndID, recipients)
}

func (x *xftpClientConn) upload(ctx context.Context, sender ed25519.PrivateKey, sndID []byte, body io.Reader, size int64) error {
	return x.c.Upload(ctx, sender, sndID, body, size)
}

// download streams the chunk through a pipe, so that the caller writes
// it where it belongs while it arrives.
func (x *xftpClientConn) download(ctx context.Context, recipient ed25519.PrivateKey, rcvID []byte, size int64) (io.ReadCloser, error) {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(x.c.Download(ctx, recipient, rcvID, size, pw)) }()
	return pr, nil
}

func (x *xftpClientConn) remove(ctx context.Context, sender ed25519.PrivateKey, sndID []byte) error {
	return x.c.Delete(ctx, sender, sndID)
}

func (x *xftpClientConn) ack(ctx context.Context, recipient ed25519.PrivateKey, rcvID []byte) error {
	return x.c.Ack(ctx, recipient, rcvID)
}

func (x *xftpClientConn) close() { x.c.Close() }
