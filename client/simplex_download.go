package client

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xftp/xftp/api/xftp"
	"github.com/xftp/xftp/chunk/simplex"
)

// SimplexDownloadRequest says what SimpleX file to download and where to.
type SimplexDownloadRequest struct {
	// Description is a recipient's description (simplex.Parse or
	// simplex.ParseLink); a redirect is followed.
	Description *simplex.Description
	// Output, Dir, Keep and Resume are as in DownloadRequest: the file's
	// own (sanitized) name in Dir when Output is empty, never overwriting;
	// FACK after the file is written unless Keep; with Resume an
	// interrupted download keeps its verified chunks next to the output
	// and continues from them when the same description is downloaded
	// again.
	Output string
	Dir    string
	Keep   bool
	Resume bool

	dial xftpDialer // tests
}

// DownloadSimplex fetches, verifies and decrypts a SimpleX file. Every
// chunk is checked against its SHA-256 digest, the encrypted file against
// its SHA-512 digest and the file against its Poly1305 tag before the
// output appears: data goes to temporary files in the target directory,
// and the verified file is renamed into place (mode 0600).
func DownloadSimplex(ctx context.Context, req SimplexDownloadRequest, o Options) (*Downloaded, error) {
	o.defaults()
	start := time.Now()
	d := req.Description
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
	p := newXFTPPool(req.dial)
	defer p.close()
	file := d
	if d.Redirect != nil {
		inner, err := followSimplexRedirect(ctx, d, p, &o)
		if err != nil {
			return nil, fmt.Errorf("redirect: %w", err)
		}
		file = inner
	}
	res, err := downloadSimplexFile(ctx, file, req, p, &o)
	if err != nil {
		return nil, err
	}
	if !req.Keep {
		ackSimplex(ctx, p, &o, file)
		if file != d {
			ackSimplex(ctx, p, &o, d)
		}
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

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

// simplexPartial is a resumable download's state: the encrypted file's
// chunks fetched so far, bound to the whole description.
type simplexPartial struct {
	Version int    `json:"version"`
	Binding string `json:"binding"`
	Done    []int  `json:"done"` // chunk numbers
	file    localFile
	mu      sync.Mutex
}

// simplexPartialVersion is the version of a SimpleX partial's state file.
const simplexPartialVersion = 1

// simplexBinding is SHA-256 of the description's YAML: a partial is used
// only for the very same description (key, nonce, digests, every replica).
func simplexBinding(d *simplex.Description) (string, error) {
	y, err := d.Marshal()
	if err != nil {
		return "", err
	}
	s := sha256.Sum256(append([]byte("xftp simplex partial\n"), y...))
	return hex.EncodeToString(s[:]), nil
}

func (s *simplexPartial) save() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.file.save(s)
}

func (s *simplexPartial) mark(no int) error {
	s.mu.Lock()
	s.Done = append(s.Done, no)
	s.mu.Unlock()
	return s.save()
}

func downloadSimplexFile(ctx context.Context, d *simplex.Description, req SimplexDownloadRequest, p *xftpPool, o *Options) (res *Downloaded, err error) {
	dir := req.Dir
	if req.Output != "" {
		dir = filepath.Dir(req.Output)
	}
	if dir == "" {
		dir = "."
	}
	var enc *os.File
	var state *simplexPartial
	done := map[int]bool{}
	if req.Resume {
		bind, err := simplexBinding(d)
		if err != nil {
			return nil, err
		}
		name := filepath.Join(dir, ".xftp-simplex-"+bind[:32]+".partial")
		state = &simplexPartial{Version: simplexPartialVersion, Binding: bind,
			file: localFile{path: name + ".state", version: simplexPartialVersion}}
		var old simplexPartial
		if found, err := state.file.load(&old); found && err == nil && old.Binding == bind {
			for _, n := range old.Done {
				if n >= 1 && n <= len(d.Chunks) {
					done[n] = true
				}
			}
		}
		if enc, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600); err != nil {
			return nil, err
		}
		// Locked while in use (closing the file unlocks it): a second
		// download of the same description must not share the partial.
		if err := lockFile(enc); err != nil {
			enc.Close()
			return nil, fmt.Errorf("another download of this file is running in %s", dir)
		}
		if fi, err := enc.Stat(); err != nil || fi.Size() != d.Size {
			clear(done) // not the partial the state describes
		}
	} else if enc, err = os.CreateTemp(dir, ".xftp-download-*.encrypted"); err != nil {
		return nil, err
	}
	keep := false
	defer func() {
		enc.Close()
		if keep {
			return
		}
		if state != nil {
			state.file.remove()
		}
		os.Remove(enc.Name())
	}()
	if err := enc.Truncate(d.Size); err != nil {
		return nil, err
	}
	offs := chunkOffsets(d)
	// Chunks kept from an earlier run are checked again: the partial file
	// is ours, but it sat on disk.
	var resumed int
	for no := range done {
		c := d.Chunks[no-1]
		h := sha256.New()
		if _, err := io.Copy(h, io.NewSectionReader(enc, offs[no-1], c.Size)); err != nil || subtle.ConstantTimeCompare(h.Sum(nil), c.Digest) != 1 {
			delete(done, no)
			continue
		}
		resumed++
	}
	if state != nil {
		for no := range done {
			state.Done = append(state.Done, no)
		}
		slices.Sort(state.Done)
		if err := state.save(); err != nil {
			return nil, err
		}
	}
	var doneBytes atomic.Int64
	for no := range done {
		doneBytes.Add(d.Chunks[no-1].Size)
	}
	var todo []int
	for i := range d.Chunks {
		if !done[i+1] {
			todo = append(todo, i)
		}
	}
	err = forEach(ctx, len(todo), o.Parallel, func(ctx context.Context, k int) error {
		i := todo[k]
		c := d.Chunks[i]
		retryEvent := func(err error) {
			if o.Progress != nil {
				o.Progress(Event{Op: "download", Chunk: c.No, Chunks: len(d.Chunks), Bytes: c.Size, Done: doneBytes.Load(), Total: d.Size, Retry: true, Err: err})
			}
		}
		if err := fetchSimplexChunk(ctx, p, o, c, enc, offs[i], retryEvent); err != nil {
			return err
		}
		if state != nil {
			if err := state.mark(c.No); err != nil {
				return err
			}
		}
		n := doneBytes.Add(c.Size)
		if o.Progress != nil {
			o.Progress(Event{Op: "download", Chunk: c.No, Chunks: len(d.Chunks), Bytes: c.Size, Done: n, Total: d.Size})
		}
		return nil
	})
	if err != nil {
		if state != nil && doneBytes.Load() > 0 {
			keep = true
			return nil, fmt.Errorf("%w (the verified chunks are kept: run the same download again to continue)", err)
		}
		return nil, err
	}
	h := sha512.New()
	if _, err := io.Copy(h, io.NewSectionReader(enc, 0, d.Size)); err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(h.Sum(nil), d.Digest) != 1 {
		return nil, errors.New("the file does not match its digest in the description (every chunk matched its own: the description is inconsistent)")
	}
	out, err := os.CreateTemp(dir, ".xftp-download-*")
	if err != nil {
		return nil, err
	}
	defer func() {
		if out != nil {
			out.Close()
			os.Remove(out.Name())
		}
	}()
	bw := bufio.NewWriterSize(out, 256<<10)
	hdr, err := simplex.Decrypt(bw, bufio.NewReaderSize(io.NewSectionReader(enc, 0, d.Size), 256<<10), d.Size, d.Key, d.Nonce)
	if err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	fi, err := out.Stat()
	if err != nil {
		return nil, err
	}
	if err := out.Sync(); err != nil {
		return nil, err
	}
	if err := out.Close(); err != nil {
		return nil, err
	}
	path := req.Output
	if path == "" {
		if path, err = freeName(dir, hdr.Name); err != nil {
			return nil, err
		}
		// Link rather than rename: it fails instead of overwriting a file
		// that appeared meanwhile.
		if err := os.Link(out.Name(), path); err != nil {
			return nil, err
		}
		os.Remove(out.Name())
	} else if err := os.Rename(out.Name(), path); err != nil {
		return nil, err
	}
	out = nil
	return &Downloaded{Path: path, Name: hdr.Name, Size: fi.Size()}, nil
}
