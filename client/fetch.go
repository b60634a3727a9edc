package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xftp/xftp/chunk"
)

// downloader fetches a file's chunks stripe by stripe. Without parity each
// chunk streams straight into the Opener. With parity, a stripe's chunks
// are fetched into memory from the fastest servers first; once any K of its
// K+M chunks have arrived intact the rest are cancelled, and missing data
// chunks are rebuilt. A chunk that is missing, expired, blocked, corrupt or
// whose server is down counts as an erasure.
type downloader struct {
	d       *chunk.Description
	o       *Options
	pool    *pool
	opener  *chunk.Opener
	erasure *chunk.Erasure
	stripes []chunk.Stripe
	done    atomic.Int64
	chunks  int

	mu      sync.Mutex
	latency map[string]time.Duration // per server, smoothed
	failed  map[string]bool          // servers that failed in this download

	log chunkLog // nil unless resuming
}

// chunkLog records which data chunks a resumable download has written to
// its destination (partial.go), so that a later run skips them.
type chunkLog interface {
	// done reports whether chunk i is written.
	done(i int) bool
	// mark records chunk i as written (after making it durable).
	mark(i int) error
}

func (dl *downloader) written(i int) bool { return dl.log != nil && dl.log.done(i) }

func (dl *downloader) markWritten(i int) error {
	if dl.log == nil {
		return nil
	}
	return dl.log.mark(i)
}

// maxStripeMemory bounds what one stripe of a parity download may hold in
// memory: all its chunks, at worst. A description with 255 data shards of
// 4 MiB would otherwise make one stripe take about 1 GiB.
const maxStripeMemory = 256 << 20

func newDownloader(d *chunk.Description, o *Options, p *pool, opener *chunk.Opener) (*downloader, error) {
	data, parity := 1, 0
	if d.Erasure.Parity > 0 {
		data, parity = d.Erasure.Data, d.Erasure.Parity
	}
	e, err := chunk.NewErasure(data, parity)
	if err != nil {
		return nil, err
	}
	stripes := e.Stripes(d.ChunkSizes())
	for _, st := range stripes {
		if n := int64(len(st.Data)+len(st.Parity)) * st.ShardSize; parity > 0 && n > maxStripeMemory {
			return nil, fmt.Errorf("the description's %d+%d striping needs %d MiB per stripe in memory, more than %d MiB",
				data, parity, n>>20, maxStripeMemory>>20)
		}
	}
	return &downloader{d: d, o: o, pool: p, opener: opener, erasure: e, stripes: stripes,
		chunks: len(d.Chunks) + len(d.Parity), latency: map[string]time.Duration{}, failed: map[string]bool{}}, nil
}

func (dl *downloader) run(ctx context.Context) error {
	if dl.erasure.ParityShards() == 0 {
		return forEach(ctx, len(dl.d.Chunks), dl.o.Parallel, func(ctx context.Context, i int) error {
			if dl.written(i) {
				dl.progress(i+1, dl.d.Chunks[i].Size)
				return nil
			}
			if err := dl.streamChunk(ctx, i); err != nil {
				return err
			}
			return dl.markWritten(i)
		})
	}
	// Enough stripes at once to keep Parallel requests busy.
	parallel := max(1, dl.o.Parallel/dl.erasure.DataShards())
	return forEach(ctx, len(dl.stripes), parallel, func(ctx context.Context, s int) error {
		st := dl.stripes[s]
		all := true
		for _, i := range st.Data {
			all = all && dl.written(i)
		}
		if all {
			for j, i := range st.Data {
				dl.progress(i+1, st.Sizes[j])
			}
			return nil
		}
		if err := dl.stripe(ctx, st); err != nil {
			return err
		}
		for _, i := range st.Data {
			if err := dl.markWritten(i); err != nil {
				return err
			}
		}
		return nil
	})
}

// streamChunk downloads data chunk i into the Opener, trying its replicas.
func (dl *downloader) streamChunk(ctx context.Context, i int) error {
	ref := dl.d.Chunks[i]
	var last error
	var blocked *BlockedError
	for _, rep := range ref.Replicas {
		c, err := dl.pool.downloader(rep.Server)
		if err != nil {
			last = err
			continue
		}
		last = retry(ctx, dl.o.retries(rep.Server), func() error {
			rc, err := c.Download(ctx, rep.ID, rep.Key, ref.Size)
			if err != nil {
				return err
			}
			defer rc.Close()
			return dl.opener.OpenChunk(i, ref.Digest, rc)
		}, func(err error) {
			dl.o.emit(Event{Op: "download", Chunk: i + 1, Chunks: dl.chunks, Bytes: ref.Size, Retry: true, Err: err})
		})
		if last == nil {
			dl.progress(i+1, ref.Size)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if be := dl.o.blocked(last, rep.Server, "download", i+1, dl.chunks); be != nil && blocked == nil {
			blocked = be // another replica may still serve it
		}
	}
	if blocked != nil {
		return blocked
	}
	return fmt.Errorf("chunk %d: %w", i+1, last)
}

func (dl *downloader) progress(no int, size int64) {
	dl.o.emit(Event{Op: "download", Chunk: no, Chunks: dl.chunks, Bytes: size, Done: dl.done.Add(size), Total: dl.d.Size})
}

// shard is one chunk of a stripe: data (j < K) or parity.
type shard struct {
	j      int
	ref    chunk.ChunkRef
	no     int // chunk number for messages
	parity bool
}

type fetched struct {
	j   int
	buf []byte
	err error
}

// stripe fetches any K chunks of a stripe and writes its data chunks.
func (dl *downloader) stripe(ctx context.Context, st chunk.Stripe) error {
	k := len(st.Data) // a short last stripe has fewer data chunks
	var cands []shard
	for j, i := range st.Data {
		cands = append(cands, shard{j: j, ref: dl.d.Chunks[i], no: i + 1})
	}
	for j, pi := range st.Parity {
		cands = append(cands, shard{j: k + j, ref: dl.d.Parity[pi], no: len(dl.d.Chunks) + pi + 1, parity: true})
	}
	need := k // a short stripe's virtual zero shards are always present
	dl.order(cands)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan fetched, len(cands))
	shards := make([][]byte, k+len(st.Parity))
	next, inflight, have := 0, 0, 0
	var errs []error
	launch := func() {
		c := cands[next]
		next++
		inflight++
		go func() {
			buf, err := dl.fetch(ctx, c)
			results <- fetched{j: c.j, buf: buf, err: err}
		}()
	}
	for next < len(cands) && next < need {
		launch()
	}
	hedge := time.NewTimer(dl.hedgeDelay())
	defer hedge.Stop()
	for have < need {
		if inflight == 0 && next == len(cands) {
			return stripeError(st.Index, have, need, errs)
		}
		select {
		case r := <-results:
			inflight--
			if r.err != nil {
				if ctx.Err() == nil {
					errs = append(errs, r.err)
				}
				if next < len(cands) {
					launch() // an erasure: ask the next chunk at once
				}
				continue
			}
			if r.j >= k { // parity is stored masked: unmask before rebuilding
				if err := chunk.MaskParity(dl.d.Key, st.Index, r.j-k, r.buf); err != nil {
					return err
				}
			}
			shards[r.j] = r.buf
			have++
		case <-hedge.C:
			// A request is slow: ask one more chunk than needed.
			if next < len(cands) {
				launch()
			}
			hedge.Reset(dl.hedgeDelay())
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	cancel() // the long tail is not needed any more
	missing := false
	for j := range st.Data {
		if shards[j] == nil {
			missing = true
		}
	}
	if missing {
		if err := dl.erasure.Reconstruct(shards, st.Sizes, st.ShardSize); err != nil {
			return fmt.Errorf("stripe %d: rebuilding: %w", st.Index+1, err)
		}
	}
	for j, i := range st.Data {
		if err := dl.opener.OpenChunk(i, dl.d.Chunks[i].Digest, bytes.NewReader(shards[j][:st.Sizes[j]])); err != nil {
			return fmt.Errorf("chunk %d: %w", i+1, err)
		}
		dl.progress(i+1, st.Sizes[j])
	}
	return nil
}

// order puts the chunks likely to arrive first in front: servers that have
// not failed, then the fastest, then data before parity (no rebuild needed).
func (dl *downloader) order(cands []shard) {
	dl.mu.Lock()
	defer dl.mu.Unlock()
	server := func(c shard) string { return c.ref.Replicas[0].Server }
	sort.SliceStable(cands, func(a, b int) bool {
		ca, cb := cands[a], cands[b]
		if fa, fb := dl.failed[server(ca)], dl.failed[server(cb)]; fa != fb {
			return !fa
		}
		la, lb := dl.latency[server(ca)], dl.latency[server(cb)]
		if la != lb && la > 0 && lb > 0 && (la > 2*lb || lb > 2*la) {
			return la < lb
		}
		return !ca.parity && cb.parity
	})
}

// hedgeDelay is how long a stripe waits on slow requests before asking for
// another chunk: a few times the typical chunk fetch so far.
func (dl *downloader) hedgeDelay() time.Duration {
	dl.mu.Lock()
	defer dl.mu.Unlock()
	var sum time.Duration
	n := 0
	for srv, l := range dl.latency {
		if !dl.failed[srv] {
			sum += l
			n++
		}
	}
	if n == 0 {
		return 2 * time.Second
	}
	return min(max(4*sum/time.Duration(n), 250*time.Millisecond), 10*time.Second)
}

// fetch downloads one chunk into memory and checks its digest. Attempts are
// fewer than for plain downloads: other chunks of the stripe can stand in.
func (dl *downloader) fetch(ctx context.Context, c shard) ([]byte, error) {
	var last error
	for _, rep := range c.ref.Replicas {
		cl, err := dl.pool.downloader(rep.Server)
		if err != nil {
			last = err
			continue
		}
		start := time.Now()
		var buf []byte
		last = retry(ctx, retryPolicy{attempts: min(dl.o.Attempts, 2)}, func() error {
			rc, err := cl.Download(ctx, rep.ID, rep.Key, c.ref.Size)
			if err != nil {
				return err
			}
			defer rc.Close()
			buf = make([]byte, c.ref.Size)
			if _, err := io.ReadFull(rc, buf); err != nil {
				return err
			}
			sum := sha256.Sum256(buf)
			if subtle.ConstantTimeCompare(sum[:], c.ref.Digest[:]) != 1 {
				return fmt.Errorf("chunk %d: %w", c.no, chunk.ErrDigest)
			}
			return nil
		}, nil)
		dl.mu.Lock()
		if last == nil {
			d := time.Since(start)
			if old := dl.latency[rep.Server]; old > 0 {
				d = (3*old + d) / 4
			}
			dl.latency[rep.Server] = d
		} else if ctx.Err() == nil {
			dl.failed[rep.Server] = true
		}
		dl.mu.Unlock()
		if last == nil {
			return buf, nil
		}
		if be := dl.o.blocked(last, rep.Server, "download", c.no, dl.chunks); be != nil {
			last = be // a verified block: an erasure here, the cause if the stripe fails
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return nil, fmt.Errorf("chunk %d: %w", c.no, last)
}

// stripeError explains why a stripe could not be read: a verified block if
// one caused it; a temporary error (so the download can be resumed) when
// every failure was a network or server hiccup; else too many erasures. The
// causes are joined on one line.
func stripeError(stripe, have, need int, errs []error) error {
	var msgs []string
	allTemporary := len(errs) > 0
	for _, err := range errs {
		var be *BlockedError
		if errors.As(err, &be) {
			return be
		}
		allTemporary = allTemporary && temporary(err) && !errors.Is(err, chunk.ErrDigest)
		msgs = append(msgs, err.Error())
	}
	causes := strings.Join(msgs, "; ")
	if allTemporary {
		return fmt.Errorf("stripe %d: only %d of the %d chunks needed could be fetched (%w; %w): %s",
			stripe+1, have, need, chunk.ErrTooManyErasures, errServersUnreachable, causes)
	}
	return fmt.Errorf("stripe %d: only %d of the %d chunks needed could be fetched (%w): %s",
		stripe+1, have, need, chunk.ErrTooManyErasures, causes)
}

// errServersUnreachable marks a stripe that failed only because servers did
// not answer: trying again later may succeed, so the download is resumable.
var errServersUnreachable = errors.New("servers unreachable; try again later")
