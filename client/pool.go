package client

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/api/httpclient"
	"github.com/xftp/xftp/blocklist"
	"github.com/xftp/xftp/chunk"
	"github.com/xftp/xftp/identity"
	"github.com/xftp/xftp/internal/stream"
)

// Options are shared by all operations.
type Options struct {
	// Parallel bounds the chunks in flight (default 8).
	Parallel int
	// Attempts is how often one chunk operation is tried at least
	// (default 5).
	Attempts int
	// RetryFor is how long a chunk operation that keeps failing for a
	// temporary reason (503 with Retry-After while a Redis or S3 node
	// fails over, a cut connection) is retried beyond Attempts, measured
	// from its first try (default 60s if Attempts is left at its default,
	// else none; negative: none). It must outlast a failover: see
	// docs/SCALING.md for the seconds measured.
	RetryFor time.Duration
	// Progress, if set, receives events as the transfer proceeds.
	Progress func(Event)
	// ClientOptions configure the connections to servers.
	ClientOptions httpclient.ClientOptions
	// Restrictions, if set, is the restriction store: operations consult
	// it and record the restrictions of verified blocking records in it.
	Restrictions *Restrictions
	// IgnoreRestrictions proceeds despite restrictions, after a warning.
	IgnoreRestrictions bool
	// Warn, if set, receives warnings for the user.
	Warn func(string)
	// Sent, if set, remembers uploads (sent.go): their sender
	// descriptions, which can delete the files, for MaxSentAge.
	Sent *SentIndex
	// CheckEarlierUploads makes an upload first ask its servers about the
	// uploads remembered in Sent, to learn of blocks before sending
	// anything. Off by default: it lets each server asked link those
	// earlier files to each other, to this upload and to this client's
	// address (the requests come from one address at one moment), which
	// nothing else the client sends allows.
	CheckEarlierUploads bool
	// Proxy routes downloads through receiving proxies (proxy.go).
	Proxy ProxyOptions
}

func (o *Options) defaults() {
	if o.Parallel <= 0 {
		o.Parallel = 8
	}
	if o.Attempts <= 0 {
		o.Attempts = 5
		if o.RetryFor == 0 {
			o.RetryFor = 60 * time.Second
		}
	}
}

// Event reports progress of a transfer.
type Event struct {
	Op     string // "upload", "download", "delete"
	Chunk  int    // 1-based
	Chunks int
	Bytes  int64 // bytes of this chunk
	Done   int64 // bytes of finished chunks so far
	Total  int64
	Retry  bool  // a retry is about to happen
	Err    error // the error that caused the retry
}

type pool struct {
	mu      sync.Mutex
	clients map[string]*httpclient.Client
	opts    httpclient.ClientOptions
	proxy   *router // downloads through proxies, if configured (proxy.go)
}

func newPool(o httpclient.ClientOptions) *pool {
	return &pool{clients: map[string]*httpclient.Client{}, opts: o}
}

func (p *pool) get(server string) (*httpclient.Client, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.clients[server]; ok {
		return c, nil
	}
	addr, err := api.ParseAddress(server)
	if err != nil {
		return nil, err
	}
	c := httpclient.NewClient(addr, p.opts)
	p.clients[server] = c
	return c, nil
}

func (p *pool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.clients {
		c.Close()
	}
	if p.proxy != nil {
		p.proxy.close()
	}
}

// temporary reports whether retrying after err may help.
func temporary(err error) bool {
	var ae *api.Error
	var ne net.Error
	var be *blocklist.BlockedError
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, identity.ErrWrongIdentity), errors.Is(err, httpclient.ErrOneStep):
		return false
	case errors.As(err, &be), errors.Is(err, httpclient.ErrInvalidBlockingRecord), errors.Is(err, ErrNoProxyRoute):
		return false // a verified block is final; a forged one is the server's fault
	case errors.As(err, &ae):
		return ae.Temporary()
	case errors.Is(err, httpclient.ErrTransport), errors.Is(err, stream.ErrAuth):
		return true // the stream was cut or changed on the way: fetch again
	case errors.As(err, &ne), errors.Is(err, context.DeadlineExceeded):
		return true
	}
	var pe *fs.PathError
	if errors.As(err, &pe) || errors.Is(err, chunk.ErrHeader) || errors.Is(err, chunk.ErrSize) {
		return false // local files, or a description that does not fit the data
	}
	// Connection resets and HTTP/2 stream errors are not always net.Errors.
	return true
}

// retryPolicy bounds retry: at least attempts tries, and more while the
// budget since the first try lasts.
type retryPolicy struct {
	attempts int
	budget   time.Duration
}

func (o *Options) retries() retryPolicy { return retryPolicy{o.Attempts, o.RetryFor} }

// retry runs op until it succeeds, fails permanently, or both its tries
// and its time budget are spent, backing off exponentially with jitter and
// honouring Retry-After.
func retry(ctx context.Context, p retryPolicy, op func() error, onRetry func(error)) error {
	backoff := 300 * time.Millisecond
	start := time.Now()
	var err error
	tries := 0
	for {
		tries++
		if err = op(); err == nil || !temporary(err) {
			return err
		}
		wait := backoff/2 + rand.N(backoff)
		var ae *api.Error
		if errors.As(err, &ae) && ae.RetryAfter > wait {
			wait = ae.RetryAfter
		}
		if tries >= p.attempts && time.Since(start)+wait > p.budget {
			break
		}
		if onRetry != nil {
			onRetry(err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
	return fmt.Errorf("giving up after %d attempts in %v: %w", tries, time.Since(start).Round(time.Second), err)
}

// forEach runs fn for 0..n-1 with at most parallel at once and returns the
// first error, canceling the rest.
func forEach(ctx context.Context, n, parallel int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(ctx, i); err != nil {
				cancel(err)
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && ctx.Err() != nil {
		return err
	}
	return nil
}
