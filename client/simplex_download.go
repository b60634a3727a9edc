package client

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xftp/xftp/api/xftp"
	"github.com/xftp/xftp/chunk/simplex"
)

// SimplexDownloadRequest says what SimpleX file to download and where to.
// The engine writes into Dest and touches no file: DownloadSimplexFile is
// the same download into a file, with resume.
type SimplexDownloadRequest struct {
	// Description is a recipient's description (simplex.Parse or
	// simplex.ParseLink); a redirect is followed.
	Description *simplex.Description
	// Dest receives the file, written in order from offset 0. A SimpleX
	// file is authenticated as a whole (its digest and its tag come at
	// the end), so Dest holds data that failed verification if the
	// download fails: use it only once DownloadSimplex returns no error.
	Dest io.WriterAt
	// Keep is as in DownloadRequest: FACK after the file is written unless
	// Keep.
	Keep bool

	dial xftpDialer // tests
}

// DownloadSimplex fetches, verifies and decrypts a SimpleX file into
// req.Dest. Every chunk is checked against its SHA-256 digest before it is
// decrypted, and the file against its SHA-512 digest and its Poly1305 tag
// at the end. Chunks are fetched Options.Parallel at a time and decrypted
// in order: at most 2*Parallel chunks (of at most 4 MiB) wait in memory.
func DownloadSimplex(ctx context.Context, req SimplexDownloadRequest, o Options) (*Downloaded, error) {
	if req.Dest == nil {
		return nil, errors.New("no destination given")
	}
	return downloadSimplexWith(ctx, req.Description, req.Keep, req.dial, o, func(ctx context.Context, d *simplex.Description, p *xftpPool, o *Options) (*Downloaded, error) {
		return streamSimplex(ctx, d, p, o, req.Dest)
	})
}

// downloadSimplexWith checks d, follows a redirect, fetches the file with
// fetch and acknowledges its chunks unless keep.
func downloadSimplexWith(ctx context.Context, d *simplex.Description, keep bool, dial xftpDialer, o Options,
	fetch func(ctx context.Context, d *simplex.Description, p *xftpPool, o *Options) (*Downloaded, error)) (*Downloaded, error) {
	o.defaults()
	start := time.Now()
	if d == nil {
		return nil, errors.New("no description")
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	if d.Party != simplex.Recipient {
		return nil, ErrNotRecipient
	}
	if len(o.Proxy.Proxies) > 0 {
		return nil, ErrSimplexProxy
	}
	p := newXFTPPool(dial)
	defer p.close()
	file := d
	if d.Redirect != nil {
		inner, err := followSimplexRedirect(ctx, d, p, &o)
		if err != nil {
			return nil, fmt.Errorf("redirect: %w", err)
		}
		file = inner
	}
	res, err := fetch(ctx, file, p, &o)
	if err != nil {
		return nil, err
	}
	if !keep {
		ackSimplex(ctx, p, &o, file)
		if file != d {
			ackSimplex(ctx, p, &o, d)
		}
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// streamSimplex fetches d's chunks Parallel at a time into memory and
// decrypts them, in order, into w.
func streamSimplex(ctx context.Context, d *simplex.Description, p *xftpPool, o *Options, w io.WriterAt) (*Downloaded, error) {
	pr, pw := io.Pipe()
	type result struct {
		hdr simplex.Header
		err error
	}
	decrypted := make(chan result, 1)
	out := countingWriter{w: io.NewOffsetWriter(w, 0)}
	go func() {
		bw := bufio.NewWriterSize(&out, 256<<10)
		hdr, err := simplex.Decrypt(bw, pr, d.Size, d.Key, d.Nonce)
		if err == nil {
			err = bw.Flush()
		}
		pr.CloseWithError(err) // a failed decryption stops the fetching
		decrypted <- result{hdr, err}
	}()
	digest := sha512.New()
	var received atomic.Int64
	err := func() error {
		defer pw.Close()
		err := fetchInOrder(ctx, len(d.Chunks), o.Parallel, func(ctx context.Context, i int) ([]byte, error) {
			c := d.Chunks[i]
			buf := make(memWriterAt, c.Size)
			return buf, fetchSimplexChunk(ctx, p, o, c, buf, 0, func(err error) {
				o.emit(Event{Op: "download", Chunk: c.No, Chunks: len(d.Chunks), Bytes: c.Size, Done: received.Load(), Total: d.Size, Retry: true, Err: err})
			})
		}, func(i int, b []byte) error {
			digest.Write(b)
			if _, err := pw.Write(b); err != nil {
				return err
			}
			c := d.Chunks[i]
			o.emit(Event{Op: "download", Chunk: c.No, Chunks: len(d.Chunks), Bytes: c.Size, Done: received.Add(c.Size), Total: d.Size})
			return nil
		})
		if err != nil {
			return err
		}
		if subtle.ConstantTimeCompare(digest.Sum(nil), d.Digest) != 1 {
			return errSimplexFileDigest
		}
		return nil
	}()
	if err != nil {
		pw.CloseWithError(err)
		<-decrypted
		return nil, err
	}
	r := <-decrypted
	if r.err != nil {
		return nil, r.err
	}
	return &Downloaded{Name: r.hdr.Name, Size: out.n, Received: received.Load()}, nil
}

// fetchInOrder fetches items 0..n-1, parallel at a time, and delivers
// each, in order, from the calling goroutine. Fetching runs at most
// 2*parallel items ahead of delivery, which bounds what waits in memory.
// The first error stops everything; all goroutines have ended when it
// returns.
func fetchInOrder(ctx context.Context, n, parallel int, fetch func(ctx context.Context, i int) ([]byte, error), deliver func(i int, b []byte) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	fetched := make([]chan []byte, n)
	for i := range fetched {
		fetched[i] = make(chan []byte, 1) // each gets one send: never blocks
	}
	inflight := make(chan struct{}, parallel)
	ahead := make(chan struct{}, 2*parallel) // fetching or fetched, not delivered
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range n {
			select {
			case ahead <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case inflight <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				b, err := fetch(ctx, i)
				<-inflight
				if err != nil {
					cancel(err)
					return
				}
				fetched[i] <- b
			}()
		}
	}()
	err := func() error {
		for i := range n {
			select {
			case b := <-fetched[i]:
				if err := deliver(i, b); err != nil {
					return err
				}
				<-ahead
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}
		return nil
	}()
	cancel(err)
	wg.Wait()
	return err
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// errSimplexFileDigest: every chunk matched its digest but the whole file
// does not match the description's.
var errSimplexFileDigest = errors.New("the file does not match its digest in the description (every chunk matched its own: the description is inconsistent)")

// ackSimplex acknowledges every chunk; failures are harmless (the chunks
// expire) and are not reported as a failed download.
func ackSimplex(ctx context.Context, p *xftpPool, o *Options, d *simplex.Description) {
	forEach(ctx, len(d.Chunks), o.Parallel, func(ctx context.Context, i int) error {
		for _, r := range d.Chunks[i].Replicas {
			if a, err := addressOf(r.Server); err == nil {
				p.do(ctx, &Options{Attempts: 2}, a, func(s xftpServer) error { return s.ack(ctx, r.Key, r.ID) }, nil)
			}
		}
		return nil
	})
}

// fetchSimplexChunk downloads chunk c into w at off, trying its replicas
// in order, and checks its digest.
func fetchSimplexChunk(ctx context.Context, p *xftpPool, o *Options, c simplex.Chunk, w io.WriterAt, off int64, onRetry func(error)) error {
	var errs []error
	for _, r := range c.Replicas {
		a, err := addressOf(r.Server)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		err = p.do(ctx, o, a, func(s xftpServer) error {
			rc, err := s.download(ctx, r.Key, r.ID, c.Size)
			if err != nil {
				return err
			}
			defer rc.Close()
			h := sha256.New()
			n, err := io.Copy(io.MultiWriter(io.NewOffsetWriter(w, off), h), io.LimitReader(rc, c.Size+1))
			if err != nil {
				return err
			}
			if n != c.Size {
				return fmt.Errorf("%w: chunk is %d bytes, not %d", io.ErrUnexpectedEOF, n, c.Size)
			}
			if subtle.ConstantTimeCompare(h.Sum(nil), c.Digest) != 1 {
				return fmt.Errorf("chunk %d %w", c.No, errChunkDigest)
			}
			return nil
		}, onRetry)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, xftp.ErrAuth) {
			err = fmt.Errorf("%w (the chunk was deleted, has expired, or this description was already used and acknowledged)", err)
		}
		errs = append(errs, fmt.Errorf("chunk %d on %s: %w", c.No, redactXFTP(a), err))
	}
	return errors.Join(errs...)
}

// ResolveSimplexRedirect returns the description a redirect leads to,
// fetching and checking its file without acknowledging it (a moderator
// reading a reported link leaves it usable).
func ResolveSimplexRedirect(ctx context.Context, d *simplex.Description, o Options) (*simplex.Description, error) {
	o.defaults()
	if err := d.Validate(); err != nil {
		return nil, err
	}
	if d.Redirect == nil || d.Party != simplex.Recipient {
		return nil, errors.New("not a recipient's redirect description")
	}
	p := newXFTPPool(nil)
	defer p.close()
	return followSimplexRedirect(ctx, d, p, &o)
}

// followSimplexRedirect downloads and decrypts the description a redirect
// points to, and checks it is the one the redirect names.
func followSimplexRedirect(ctx context.Context, d *simplex.Description, p *xftpPool, o *Options) (*simplex.Description, error) {
	const maxRedirectFile = 16 << 20
	if d.Size > maxRedirectFile {
		return nil, fmt.Errorf("the redirect's file is %d bytes, more than a description needs", d.Size)
	}
	buf := make(memWriterAt, d.Size)
	offs := chunkOffsets(d)
	err := forEach(ctx, len(d.Chunks), o.Parallel, func(ctx context.Context, i int) error {
		return fetchSimplexChunk(ctx, p, o, d.Chunks[i], buf, offs[i], nil)
	})
	if err != nil {
		return nil, err
	}
	if sum := sha512.Sum512(buf); subtle.ConstantTimeCompare(sum[:], d.Digest) != 1 {
		return nil, errors.New("the description file does not match its digest")
	}
	var y bytes.Buffer
	if _, err := simplex.Decrypt(&limitWriter{w: &y, n: simplex.MaxDescriptionSize}, bytes.NewReader(buf), d.Size, d.Key, d.Nonce); err != nil {
		return nil, err
	}
	inner, err := simplex.Parse(y.Bytes())
	if err != nil {
		return nil, err
	}
	switch {
	case inner.Party != simplex.Recipient:
		return nil, errors.New("it leads to a sender's description")
	case inner.Redirect != nil:
		return nil, errors.New("it leads to another redirect (a chain is not followed)")
	case inner.Size != d.Redirect.Size || subtle.ConstantTimeCompare(inner.Digest, d.Redirect.Digest) != 1:
		return nil, errors.New("it leads to a description of another file than it names")
	}
	return inner, nil
}

type memWriterAt []byte

func (m memWriterAt) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(m)) {
		return 0, errors.New("write past the end of the chunk")
	}
	return copy(m[off:], p), nil
}

type limitWriter struct {
	w io.Writer
	n int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.n {
		return 0, fmt.Errorf("more than %d bytes", l.n)
	}
	l.n -= int64(len(p))
	return l.w.Write(p)
}

func chunkOffsets(d *simplex.Description) []int64 {
	offs := make([]int64, len(d.Chunks))
	var off int64
	for i, c := range d.Chunks {
		offs[i] = off
		off += c.Size
	}
	return offs
}
