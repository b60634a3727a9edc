package client

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/xftp/xftp/api/xftp"
	"github.com/xftp/xftp/api/xftpclient"
	"github.com/xftp/xftp/chunk/simplex"
	"github.com/xftp/xftp/internal/tailbox"
)

// SimpleX files (chunk/simplex) move over SimpleX's XFTP protocol to any
// XFTP server, ours or SimpleX's: DownloadSimplex, UploadSimplex and
// DeleteSimplex below, in simplex_*.go. They share Options with the native
// transfers (parallelism, attempts, progress, warnings); receiving proxies
// speak our protocol only, so XFTP servers are always reached directly.

// xftpServer is one XFTP server as the SimpleX transfers use it: one
// method per command. Implementations are safe for concurrent use.
type xftpServer interface {
	// create is FNEW: a chunk of size bytes with its SHA-256 digest, the
	// sender's key and 1..200 recipients' keys; it returns the sender ID
	// and one recipient ID per key.
	create(ctx context.Context, sender ed25519.PrivateKey, size int64, digest []byte, recipients []ed25519.PublicKey) (sndID []byte, rcvIDs [][]byte, err error)
	// addRecipients is FADD: 1..200 more recipients of a chunk.
	addRecipients(ctx context.Context, sender ed25519.PrivateKey, sndID []byte, recipients []ed25519.PublicKey) ([][]byte, error)
	// upload is FPUT: the chunk's size bytes.
	upload(ctx context.Context, sender ed25519.PrivateKey, sndID []byte, body io.Reader, size int64) error
	// download is FGET: a reader of the chunk's size bytes, decrypted from
	// the transport; its last Read fails if they were altered on the way.
	download(ctx context.Context, recipient ed25519.PrivateKey, rcvID []byte, size int64) (io.ReadCloser, error)
	// remove is FDEL (sender), ack FACK (recipient).
	remove(ctx context.Context, sender ed25519.PrivateKey, sndID []byte) error
	ack(ctx context.Context, recipient ed25519.PrivateKey, rcvID []byte) error
	close()
}

// xftpDialer connects to an XFTP server, checking its identity against the
// address's key hash.
type xftpDialer func(ctx context.Context, addr xftp.Address) (xftpServer, error)

// ErrSimplexProxy: receiving proxies speak this project's protocol only.
var ErrSimplexProxy = errors.New("receiving proxies relay this project's protocol only; SimpleX files are fetched from their XFTP servers directly (drop --proxy to accept that)")

// errChunkDigest reports a chunk whose bytes do not match its description.
var errChunkDigest = errors.New("does not match its digest in the description (the server sent other data)")

// xftpPool keeps up to connsPerServer connections per server address:
// an XFTP session runs one command at a time, so parallel chunks on one
// server take turns over a few connections.
type xftpPool struct {
	dial xftpDialer
	mu   sync.Mutex
	m    map[string]*xftpConn
	next map[string]int
}

const connsPerServer = 4

type xftpConn struct {
	once sync.Once
	s    xftpServer
	err  error
}

func newXFTPPool(dial xftpDialer) *xftpPool {
	if dial == nil {
		dial = dialXFTP
	}
	return &xftpPool{dial: dial, m: map[string]*xftpConn{}, next: map[string]int{}}
}

// get returns a connection to addr (dialing it if needed) and its key.
func (p *xftpPool) get(ctx context.Context, addr xftp.Address) (xftpServer, *xftpConn, string, error) {
	a := addr.String()
	p.mu.Lock()
	slot := p.next[a] % connsPerServer
	p.next[a]++
	key := a + "#" + strconv.Itoa(slot)
	c := p.m[key]
	if c == nil {
		c = &xftpConn{}
		p.m[key] = c
	}
	p.mu.Unlock()
	c.once.Do(func() { c.s, c.err = p.dial(ctx, addr) })
	if c.err != nil {
		p.drop(key, c)
		if errors.Is(c.err, xftpclient.ErrIdentity) {
			return nil, nil, "", fmt.Errorf("connecting to %s: %w (for an xftpd relay, use its XFTP address: the second line it prints, also in DATA/xftp-address)", redactXFTP(addr), c.err)
		}
		return nil, nil, "", fmt.Errorf("connecting to %s: %w", redactXFTP(addr), c.err)
	}
	return c.s, c, key, nil
}

// drop forgets a connection after an error, so that the next try redials.
func (p *xftpPool) drop(key string, c *xftpConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m[key] == c {
		delete(p.m, key)
		if c.s != nil {
			go c.s.close()
		}
	}
}

// do runs op on a connection to the server, retried as retry.go says
// (one policy for both protocols) on a fresh connection. A connection made
// is the server proven: the XFTP handshake checked its identity.
func (p *xftpPool) do(ctx context.Context, o *Options, addr xftp.Address, op func(xftpServer) error, onRetry func(error)) error {
	return o.retries(addr.String()).run(ctx, simplexTemporary, func() (bool, error) {
		s, c, key, err := p.get(ctx, addr)
		if err != nil {
			return false, err
		}
		if err = op(s); err != nil && simplexTemporary(err) {
			p.drop(key, c)
		}
		return true, err
	}, onRetry)
}

// reach connects to each server, retried as retry.go says: an upload
// reaches its servers before it reads its source, so that a mistyped
// address fails at once. Retries are reported as events about chunk 0.
func (p *xftpPool) reach(ctx context.Context, o *Options, addrs []xftp.Address) error {
	return forEach(ctx, len(addrs), o.Parallel, func(ctx context.Context, i int) error {
		return p.do(ctx, o, addrs[i], func(xftpServer) error { return nil }, func(err error) {
			o.emit(Event{Op: "upload", Retry: true, Err: err})
		})
	})
}

func (p *xftpPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, c := range p.m {
		if c.s != nil {
			c.s.close()
		}
		delete(p.m, k)
	}
}

// simplexTemporary reports whether retrying after err may help: XFTP's
// own errors say so (SESSION, HANDSHAKE), a body cut or altered on the way
// is fetched again, a chunk that does not match its digest is not.
func simplexTemporary(err error) bool {
	var xe *xftp.Error
	switch {
	case errors.Is(err, errChunkDigest), errors.Is(err, simplex.ErrDescription):
		return false
	case errors.Is(err, xftpclient.ErrIdentity):
		return false
	case errors.As(err, &xe):
		// CRYPTO: the body was altered on the way; fetch it again.
		return xe.Temporary() || xe.Code == xftp.CodeTimeout || xe.Code == xftp.CodeCrypto
	case errors.Is(err, tailbox.ErrAuth), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	}
	return temporary(err)
}

// redactXFTP names a server without its key hash or password.
func redactXFTP(a xftp.Address) string {
	return "xftp://" + a.HostPort()
}

// addressOf returns the XFTP address of a description's server.
func addressOf(s simplex.Server) (xftp.Address, error) {
	return xftp.ParseAddress(s.String())
}

// serverOf returns the description form of an address (no password).
func serverOf(a xftp.Address) (simplex.Server, error) {
	a.Password = ""
	return simplex.ParseServer(a.String())
}
