package client

import (
	"context"
	"sync"
	"time"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/api/httpclient"
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
	// fails over, a cut connection, a relay restarting) is retried beyond
	// Attempts, measured from its first try (default 60s if Attempts is
	// left at its default, else none; negative: none). It must outlast a
	// failover: see docs/SCALING.md for the seconds measured. A server an
	// upload is given that cannot be reached before it has answered once
	// (a mistyped address) is not retried this long: see retry.go.
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

	// unproven holds the servers an upload was given that have not yet
	// answered in it (retry.go).
	unproven *unprovenServers
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
	Chunk  int    // 1-based; 0: about no chunk (reaching the servers)
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

// reach has each server prove its identity (the first command to a server
// does anyway), retried as retry.go says: an upload reaches its servers
// before it reads its source, so that a mistyped address fails at once.
// Retries are reported as events about chunk 0.
func (p *pool) reach(ctx context.Context, o *Options, servers []string) error {
	return forEach(ctx, len(servers), o.Parallel, func(ctx context.Context, i int) error {
		c, err := p.get(servers[i])
		if err != nil {
			return err
		}
		return retry(ctx, o.retries(servers[i]), func() error {
			_, err := c.VerifyIdentity(ctx)
			return err
		}, func(err error) { o.emit(Event{Op: "upload", Retry: true, Err: err}) })
	})
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
