package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/blocklist"
	"github.com/xftp/xftp/chunk"
)

// DownloadRequest says what to download and where to. The engine writes
// into Dest and touches no file: DownloadFile is the same download into a
// file, with temporary names, never overwriting, and resume.
type DownloadRequest struct {
	// Description is a recipient's description (a redirect is followed).
	Description *chunk.Description
	// Dest receives the file: each part is written at its offset, from
	// several goroutines, as soon as it decrypts (authenticated under the
	// description's key); chunk digests are checked as chunks end, so use
	// Dest only once Download returns no error. Bytes past the file's size
	// (Downloaded.Size) may be written too (padding, zeros); a file is
	// truncated to Size.
	Dest io.WriterAt
	// Keep leaves the recipient IDs on the servers; by default each chunk
	// is acknowledged (and so deleted for this recipient) after the whole
	// file is written.
	Keep bool
}

// Downloaded is the result of a download.
type Downloaded struct {
	// Path is the file written (DownloadFile, DownloadSimplexFile); empty
	// for a download into an io.WriterAt.
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

// Download fetches, verifies and decrypts a file into req.Dest. It touches
// no local file unless Options name local state (Restrictions).
func Download(ctx context.Context, req DownloadRequest, o Options) (*Downloaded, error) {
	if req.Dest == nil {
		return nil, errors.New("no destination given")
	}
	return downloadWith(ctx, req.Description, req.Keep, o, func(ctx context.Context, d *chunk.Description, o *Options, p *pool) (*Downloaded, error) {
		return fetchInto(ctx, d, o, p, req.Dest, nil, nil)
	})
}

// fetchFunc fetches a recipient's (not a redirect's) file whose servers
// the restrictions allow, through p, to where the caller wants it.
type fetchFunc func(ctx context.Context, d *chunk.Description, o *Options, p *pool) (*Downloaded, error)

// downloadWith checks d, follows a redirect, fetches the file with fetch and
// acknowledges its chunks unless keep: what every download shares, wherever
// its data goes.
func downloadWith(ctx context.Context, d *chunk.Description, keep bool, o Options, fetch fetchFunc) (res *Downloaded, err error) {
	o.defaults()
	defer func() { o.restrict(err) }() // only a block that stopped the download restricts
	start := time.Now()
	if d == nil {
		return nil, errors.New("no description given")
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	if d.Party == chunk.PartyRedirect {
		// The redirect's own chunks are kept until the file it points to
		// is downloaded: an interrupted download must find them again.
		inner, received, err := followRedirect(ctx, d, o)
		if err != nil {
			return nil, err
		}
		res, err := downloadWith(ctx, inner, keep, o, fetch)
		if err == nil {
			res.Received += received
			res.Elapsed = time.Since(start)
		}
		if err == nil && !keep {
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
	p, err := newDownloadPool(&o)
	if err != nil {
		return nil, err
	}
	defer p.close()
	if res, err = fetch(ctx, d, &o, p); err != nil {
		return nil, err
	}
	if !keep {
		ackAll(ctx, p, d, o)
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// fetchInto fetches d's chunks into w and returns the file's name and
// size. A resumed download (file front end) gives the log of the chunks
// already in w, which are skipped, and check, called once all chunks are
// in: it returns the chunks to fetch again (marked not written in log).
func fetchInto(ctx context.Context, d *chunk.Description, o *Options, p *pool, w io.WriterAt, log chunkLog,
	check func(chunk.Header) (again int, err error)) (*Downloaded, error) {
	opener, err := chunk.NewOpener(d.Key, d.ChunkSizes(), w)
	if err != nil {
		return nil, err
	}
	dl, err := newDownloader(d, o, p, opener)
	if err != nil {
		return nil, err
	}
	dl.log = log
	if err := dl.run(ctx); err != nil {
		return nil, err
	}
	hdr, err := opener.Header()
	if err != nil {
		return nil, err
	}
	if check != nil {
		if again, err := check(hdr); err != nil {
			return nil, err
		} else if again > 0 {
			if err := dl.run(ctx); err != nil {
				return nil, err
			}
		}
	}
	return &Downloaded{Name: hdr.Name, Size: hdr.Size, Received: dl.done.Load()}, nil
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
			err = retry(ctx, o.retries(rep.Server), func() error { return c.Delete(ctx, rep.ID, rep.Key) }, nil)
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
