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

// The retry policy, one for both protocols (ours and SimpleX's XFTP), by
// what a failure says about the server:
//
//   - final: retrying cannot help (a refusal for good, a verified block, a
//     server that is not the one the address names, a local file): fail
//     at once.
//   - the server answered that it is busy or failing over (503 or 429,
//     Retry-After), or a connection it had accepted was cut or timed out:
//     retry for Options.RetryFor (default 60 s), honouring Retry-After.
//   - no server answered (connection refused, unknown host, a TLS
//     handshake or a protocol that is not ours): if the server has been
//     reached before, it is restarting (kill -9 and a new start, a
//     failover behind a load balancer), and the budget applies as above;
//     if it has not, the address may be wrong, and it gets quickTries
//     tries within quickFor, then the error.
//
// "Reached before" means: the server proved its identity earlier in this
// operation, or its address comes from a description (the upload that
// wrote the description reached it). Only the addresses an upload is
// given (--server) start unproven; an upload checks them before it reads
// its source, so a mistyped address fails in about a second, and a relay
// that is down when an upload starts fails it the same way (rerun it: it
// continues where it stopped).
const (
	quickTries = 3
	quickFor   = 3 * time.Second
)

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
	// Connection resets and HTTP/2 stream errors are not always net.Errors;
	// TLS handshake failures and answers in another protocol are retried
	// too, quickly while the server is unproven (see above).
	return true
}

// busyAnswer reports whether err is the server's own answer that it is
// busy or failing over: one of our temporary codes, or any answer with
// Retry-After. Such a server is there, proven or not.
func busyAnswer(err error) bool {
	var ae *api.Error
	if !errors.As(err, &ae) || !ae.Temporary() {
		return false
	}
	_, ours := api.LookupCode(ae.Code)
	return ours || ae.RetryAfter > 0
}

// unprovenServers holds the servers an operation was given that have not
// yet proven their identity in it. Its methods are safe for concurrent use
// and on nil (no server is unproven).
type unprovenServers struct {
	mu sync.Mutex
	m  map[string]bool
}

// add marks servers as unproven.
func (u *unprovenServers) add(servers ...string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.m == nil {
		u.m = map[string]bool{}
	}
	for _, s := range servers {
		u.m[s] = true
	}
}

// proven records that server answered: from now on it is restarting, not
// mistyped, when it cannot be reached.
func (u *unprovenServers) proven(server string) {
	if u == nil {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.m, server)
}

func (u *unprovenServers) has(server string) bool {
	if u == nil {
		return false
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.m[server]
}

// retryPolicy is how an operation on one server is retried: at least
// attempts tries, and more while budget lasts since the first; or, while
// server is in unproven, quick tries for failures to reach it.
type retryPolicy struct {
	attempts int
	budget   time.Duration
	server   string
	unproven *unprovenServers
	clock    retryClock // nil: real time
}

// retryClock lets tests run the policy without waiting.
type retryClock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retries is the policy for operations on server.
func (o *Options) retries(server string) retryPolicy {
	return retryPolicy{attempts: o.Attempts, budget: o.RetryFor, server: server, unproven: o.unproven}
}

// retry runs op until it succeeds or the policy gives up (see run).
func retry(ctx context.Context, p retryPolicy, op func() error, onRetry func(error)) error {
	return p.run(ctx, temporary, func() (bool, error) {
		err := op()
		return err == nil, err
	}, onRetry)
}

// run calls try until it succeeds, fails for good (not temporary), or the
// policy's tries and time are spent, backing off exponentially with jitter
// and honouring Retry-After. try reports whether the server proved its
// identity in that try (whatever failed after), which makes it proven.
func (p retryPolicy) run(ctx context.Context, temporary func(error) bool, try func() (reached bool, err error), onRetry func(error)) error {
	clock := p.clock
	if clock == nil {
		clock = realClock{}
	}
	backoff := 300 * time.Millisecond
	start := clock.Now()
	var err error
	tries := 0
	for {
		tries++
		var reached bool
		reached, err = try()
		if reached {
			p.unproven.proven(p.server)
		}
		if err == nil || !temporary(err) || ctx.Err() != nil {
			return err
		}
		wait := backoff/2 + rand.N(backoff)
		var ae *api.Error
		if errors.As(err, &ae) && ae.RetryAfter > wait {
			wait = ae.RetryAfter
		}
		elapsed := clock.Now().Sub(start)
		if p.unproven.has(p.server) && !busyAnswer(err) {
			// Nothing that proved to be the server answered: perhaps a
			// mistyped address. A few quick tries, then the error.
			if tries >= min(p.attempts, quickTries) || elapsed+wait > quickFor {
				break
			}
		} else if tries >= p.attempts && elapsed+wait > p.budget {
			break
		}
		if onRetry != nil {
			onRetry(err)
		}
		if err := clock.Sleep(ctx, wait); err != nil {
			return err
		}
		backoff = min(2*backoff, 10*time.Second)
	}
	return fmt.Errorf("giving up after %d attempts in %v: %w", tries, clock.Now().Sub(start).Round(time.Second), err)
}
