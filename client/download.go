package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/blocklist"
	"github.com/xftp/xftp/chunk"
)

// DownloadRequest says what to download and where to.
type DownloadRequest struct {
	Description *chunk.Description
	// Output is the file to write. If empty, the file's own name is used
	// in Dir (never overwriting: a numbered name is chosen instead).
	Output string
	// Dir is where a file without Output goes (default ".").
	Dir string
	// Keep leaves the recipient IDs on the servers; by default each chunk
	// is acknowledged (and so deleted for this recipient) after the whole
	// file is written.
	Keep bool
	// Resume keeps a failed or interrupted download's verified part next to
	// the output (a hidden .xftp-*.partial file and its .state) and
	// continues from it when the same description is downloaded again.
	Resume bool
	// NoClobber fails instead of replacing an existing Output.
	NoClobber bool
	// Dest, if set, receives the file instead of Output or Dir: each
	// verified part is written at its offset, from several goroutines, as
	// it arrives. Bytes past the file's size (Downloaded.Size) may be
	// written too (padding, zeros); a file is truncated to Size. Nothing is
	// resumed: Resume and NoClobber do not apply.
	Dest io.WriterAt
}

// Downloaded is the result of a download.
type Downloaded struct {
	Path string
	Name string // the name the sender gave the file
	Size int64
	// Received counts the chunk bytes fetched (a redirect's included): the
	// bytes a transfer rate divides by Elapsed.
	Received int64
	Elapsed  time.Duration
}

// ErrNotRecipient means a sender's description was given for a download.
var ErrNotRecipient = errors.New("this is a sender's description; downloads need a recipient's (rcvN.xftp)")

// Download fetches, verifies and decrypts a file. The output appears only
// when complete and verified: data is written to a temporary file in the
// target directory, synced, and renamed into place. Like the temporary
// file, the output is readable by its owner only (mode 0600).
func Download(ctx context.Context, req DownloadRequest, o Options) (res *Downloaded, err error) {
	o.defaults()
	defer func() { o.restrict(err) }() // only a block that stopped the download restricts
	start := time.Now()
	d := req.Description
	if err := d.Validate(); err != nil {
		return nil, err
	}
	if d.Party == chunk.PartyRedirect {
		// The redirect's own chunks are kept until the file it points to
		// is downloaded: an interrupted download must find them again.
		inner, received, err := followRedirect(ctx, req, o)
		if err != nil {
			return nil, err
		}
		outer := req
		outer.Description = inner
		res, err := Download(ctx, outer, o)
		if err == nil {
			res.Received += received
			res.Elapsed = time.Since(start)
		}
		if err == nil && !req.Keep {
			rd := *d
			rd.Party = chunk.PartyRecipient
			if p, perr := newDownloadPool(&o); perr == nil {
				ackAll(ctx, p, &rd, o)
				p.close()
			}
		}
		return res, err
	}
	if d.Party != chunk.PartyRecipient {
		return nil, ErrNotRecipient
	}
	if err := o.checkServers(descriptionServers(d), blocklist.RestrictNoSenderFiles); err != nil {
		return nil, err
	}
	dir := req.Dir
	if req.Output != "" {
		dir = filepath.Dir(req.Output)
	}
	if dir == "" {
		dir = "."
	}
	p, err := newDownloadPool(&o)
	if err != nil {
		return nil, err
	}
	defer p.close()
	if req.Dest != nil {
		return downloadTo(ctx, req, o, p, start)
	}
	var tmp *os.File
	var prog *downloadProgress
	if req.Resume {
		tmp, prog, err = openPartial(dir, d)
	} else {
		tmp, err = os.CreateTemp(dir, ".xftp-download-*")
	}
	if err != nil {
		return nil, err
	}
	defer func() {
		if err == nil {
			return
		}
		if prog != nil && prog.any() && resumable(err) {
			if serr := prog.save(tmp, true); serr == nil {
				err = fmt.Errorf("%w (the verified part is kept: run the same download again to continue)", err)
				prog.unlock(tmp)
				tmp.Close()
				return
			}
		}
		// The state goes first: a state without its partial is ignored,
		// a partial without its state is started over.
		prog.remove()
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	opener, err := chunk.NewOpener(d.Key, d.ChunkSizes(), tmp)
	if err != nil {
		return nil, err
	}
	dl, err := newDownloader(d, &o, p, opener)
	if err != nil {
		return nil, err
	}
	dl.progressFile, dl.partial = prog, tmp
	if err := dl.run(ctx); err != nil {
		return nil, err
	}
	hdr, err := opener.Header()
	if err != nil {
		return nil, err
	}
	if err := tmp.Truncate(hdr.Size); err != nil {
		return nil, err
	}
	// Chunks taken from a partial file were verified when they were
	// fetched, by an earlier run: check them again before the file is
	// used, and fetch again any that changed since.
	switch bad, err := prog.verifyRestored(d, hdr, tmp); {
	case err != nil:
		return nil, fmt.Errorf("checking the resumed part: %w", err)
	case len(bad) > 0:
		o.warn(fmt.Sprintf("%d chunk(s) of the partial download no longer match the description; fetching them again", len(bad)))
		if err := dl.run(ctx); err != nil {
			return nil, err
		}
	}
	if err := tmp.Sync(); err != nil {
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	prog.remove()
	out := req.Output
	if out == "" {
		if out, err = freeName(dir, hdr.Name); err != nil {
			return nil, err
		}
		// Link rather than rename: it fails instead of overwriting a file
		// that appeared meanwhile.
		if err := os.Link(tmp.Name(), out); err != nil {
			return nil, err
		}
		os.Remove(tmp.Name())
	} else if req.NoClobber {
		if err := os.Link(tmp.Name(), out); err != nil {
			return nil, err
		}
		os.Remove(tmp.Name())
	} else if err := os.Rename(tmp.Name(), out); err != nil {
		return nil, err
	}
	if !req.Keep {
		ackAll(ctx, p, d, o)
	}
	return &Downloaded{Path: out, Name: hdr.Name, Size: hdr.Size, Received: dl.done.Load(), Elapsed: time.Since(start)}, nil
}

// downloadTo is Download into req.Dest.
func downloadTo(ctx context.Context, req DownloadRequest, o Options, p *pool, start time.Time) (*Downloaded, error) {
	d := req.Description
	opener, err := chunk.NewOpener(d.Key, d.ChunkSizes(), req.Dest)
	if err != nil {
		return nil, err
	}
	dl, err := newDownloader(d, &o, p, opener)
	if err != nil {
		return nil, err
	}
	if err := dl.run(ctx); err != nil {
		return nil, err
	}
	hdr, err := opener.Header()
	if err != nil {
		return nil, err
	}
	if !req.Keep {
		ackAll(ctx, p, d, o)
	}
	return &Downloaded{Name: hdr.Name, Size: hdr.Size, Received: dl.done.Load(), Elapsed: time.Since(start)}, nil
}

// ackAll acknowledges every chunk; failures are harmless (the chunks expire)
// and are not reported as a failed download.
func ackAll(ctx context.Context, p *pool, d *chunk.Description, o Options) {
	refs := append(append([]chunk.ChunkRef{}, d.Chunks...), d.Parity...)
	forEach(ctx, len(refs), o.Parallel, func(ctx context.Context, i int) error {
		for _, rep := range refs[i].Replicas {
			if c, err := p.downloader(rep.Server); err == nil {
				c.Ack(ctx, rep.ID, rep.Key)
			}
		}
		return nil
	})
}

// safeName makes a sender-chosen file name harmless to create and show:
// no control or format characters (bidi overrides make "evil\u202egpj.exe"
// show as "evilexe.jpg"; zero-width characters hide), no leading dot
// (hidden files), not empty.
func safeName(name string) string {
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '/' || r == '\\' || r == utf8.RuneError {
			return '_'
		}
		return r
	}, filepath.Base(name))
	name = strings.TrimLeft(name, ".")
	if name == "" {
		name = "xftp-file"
	}
	return name
}

// freeName returns a path in dir for name that does not exist yet.
func freeName(dir, name string) (string, error) {
	name = safeName(name)
	ext := filepath.Ext(name)
	base := name[:len(name)-len(ext)]
	for i := 0; i < 1000; i++ {
		cand := name
		if i > 0 {
			cand = fmt.Sprintf("%s (%d)%s", base, i, ext)
		}
		p := filepath.Join(dir, cand)
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			return p, nil
		}
	}
	return "", fmt.Errorf("no free file name for %q in %s", name, dir)
}

// Delete removes every chunk of a sender's description from its servers.
// Chunks that are already gone (deleted or expired) count as deleted.
func Delete(ctx context.Context, d *chunk.Description, o Options) (gone int, err error) {
	o.defaults()
	defer func() { o.restrict(err) }()
	if err := d.Validate(); err != nil {
		return 0, err
	}
	if d.Party != chunk.PartySender {
		return 0, errors.New("this is a recipient's description; deleting needs the sender's (snd.xftp.private)")
	}
	p := newPool(o.ClientOptions)
	defer p.close()
	var already atomic.Int64
	refs := append(append([]chunk.ChunkRef{}, d.Chunks...), d.Parity...)
	var blockedMu sync.Mutex
	var blocked *BlockedError
	err = forEach(ctx, len(refs), o.Parallel, func(ctx context.Context, i int) error {
		for _, rep := range refs[i].Replicas {
			c, err := p.get(rep.Server)
			if err != nil {
				return err
			}
			err = retry(ctx, o.retries(), func() error { return c.Delete(ctx, rep.ID, rep.Key) }, nil)
			if be := o.blocked(err, rep.Server, "delete", i+1, len(d.Chunks)); be != nil {
				// Keep deleting the rest; report the block at the end.
				blockedMu.Lock()
				if blocked == nil || be.Chunk < blocked.Chunk {
					blocked = be
				}
				blockedMu.Unlock()
				continue
			}
			if errors.Is(err, api.ErrAuth) {
				already.Add(1)
				continue
			}
			if err != nil {
				return fmt.Errorf("chunk %d on %s: %w", i+1, redact(rep.Server), err)
			}
		}
		return nil
	})
	if err == nil && blocked != nil {
		err = blocked
	}
	return int(already.Load()), err
}

func redact(server string) string {
	if a, err := api.ParseAddress(server); err == nil {
		return a.Redacted()
	}
	return "a server with a malformed address"
}
