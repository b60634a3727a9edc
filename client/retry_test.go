package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/api/xftp"
	"github.com/xftp/xftp/api/xftpclient"
	"github.com/xftp/xftp/identity"
	"github.com/xftp/xftp/internal/testenv"
	"github.com/xftp/xftp/internal/testrelay"
)

// fakeRetryClock moves only when the policy sleeps.
type fakeRetryClock struct{ t time.Time }

func (c *fakeRetryClock) Now() time.Time { return c.t }

func (c *fakeRetryClock) Sleep(ctx context.Context, d time.Duration) error {
	c.t = c.t.Add(d)
	return ctx.Err()
}

var (
	errRefused = &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	errReset   = &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	errNoHost  = &net.DNSError{Err: "no such host", Name: "relay.example", IsNotFound: true}
	errBusy    = &api.Error{Status: 503, Code: "UNAVAILABLE", RetryAfter: 5 * time.Second}
	errLB502   = &api.Error{Status: 502, Code: "HTTP_502"}
	errLB503RA = &api.Error{Status: 503, Code: "HTTP_503", RetryAfter: 2 * time.Second}
)

// TestRetryPolicyByClass runs the one retry policy (both protocols use it)
// on a clock that moves only when it sleeps, counting tries: failures to
// reach a server not yet proven in the operation get quickTries, answers
// that the server is busy and failures to reach a proven server get the
// time budget, a wrong identity none.
func TestRetryPolicyByClass(t *testing.T) {
	const budget = 60 * time.Second
	type result struct {
		reached bool
		err     error
	}
	for _, tc := range []struct {
		name     string
		unproven bool
		xftp     bool // SimpleX's XFTP: simplexTemporary classifies
		attempts int
		tries    []result // the last one repeats
		// want: exactly this many tries, or (0) beyond attempts until the
		// budget is spent.
		want    int
		wantErr error
	}{
		{name: "wrong port", unproven: true, tries: []result{{false, errRefused}}, want: quickTries, wantErr: syscall.ECONNREFUSED},
		{name: "unknown host", unproven: true, tries: []result{{false, errNoHost}}, want: quickTries, wantErr: errNoHost},
		{name: "reset before any answer", unproven: true, tries: []result{{false, errReset}}, want: quickTries, wantErr: syscall.ECONNRESET},
		{name: "foreign 502", unproven: true, tries: []result{{false, errLB502}}, want: quickTries},
		{name: "one try asked for", unproven: true, attempts: 1, tries: []result{{false, errRefused}}, want: 1},
		{name: "wrong identity", unproven: true, tries: []result{{false, identity.ErrWrongIdentity}}, want: 1, wantErr: identity.ErrWrongIdentity},
		{name: "wrong identity (XFTP)", unproven: true, xftp: true, tries: []result{{false, fmt.Errorf("connecting: %w", xftpclient.ErrIdentity)}}, want: 1, wantErr: xftpclient.ErrIdentity},
		{name: "wrong port (XFTP)", unproven: true, xftp: true, tries: []result{{false, errRefused}}, want: quickTries, wantErr: syscall.ECONNREFUSED},
		{name: "session lost (XFTP)", unproven: true, xftp: true, tries: []result{{true, xftp.ErrSession}, {false, errRefused}}},
		{name: "relay up on the third try", unproven: true, tries: []result{{false, errRefused}, {false, errRefused}, {true, nil}}, want: 3},
		{name: "busy (ours, Retry-After)", unproven: true, tries: []result{{false, errBusy}}},
		{name: "busy (load balancer, Retry-After)", unproven: true, tries: []result{{false, errLB503RA}}},
		{name: "proven, then restarting (kill -9)", unproven: true, tries: []result{{true, errReset}, {false, errRefused}}},
		{name: "from a description, refused", tries: []result{{false, errRefused}}},
		{name: "from a description, unknown host", tries: []result{{false, errNoHost}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeRetryClock{t: time.Unix(1e9, 0)}
			start := clock.t
			p := retryPolicy{attempts: 5, budget: budget, server: "s", clock: clock}
			if tc.attempts != 0 {
				p.attempts = tc.attempts
			}
			if tc.unproven {
				p.unproven = &unprovenServers{}
				p.unproven.add("s")
			}
			classify := temporary
			if tc.xftp {
				classify = simplexTemporary
			}
			n := 0
			err := p.run(context.Background(), classify, func() (bool, error) {
				r := tc.tries[min(n, len(tc.tries)-1)]
				n++
				if n > 1000 {
					t.Fatal("no end")
				}
				return r.reached, r.err
			}, nil)
			last := tc.tries[len(tc.tries)-1]
			if last.err == nil {
				if err != nil || n != tc.want {
					t.Fatalf("err %v after %d tries, want success after %d", err, n, tc.want)
				}
				return
			}
			if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			elapsed := clock.t.Sub(start)
			if tc.want != 0 {
				if n != tc.want || elapsed > quickFor {
					t.Fatalf("%d tries in %v, want %d within %v", n, elapsed, tc.want, quickFor)
				}
				return
			}
			// The budget: beyond the attempts, until less than one wait
			// (at most 15 s with the jitter) is left of it.
			if n <= p.attempts || elapsed > budget || elapsed < budget-15*time.Second {
				t.Fatalf("%d tries in %v, want more than %d within the %v budget", n, elapsed, p.attempts, budget)
			}
		})
	}
}

// closedPort returns a loopback HOST:PORT nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hp := l.Addr().String()
	l.Close()
	return hp
}

// countingReader counts reads of its source.
type countingReader struct {
	r     *bytes.Reader
	reads atomic.Int32
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	c.reads.Add(1)
	return c.r.ReadAt(p, off)
}

// TestUploadToWrongPortFailsFast: an upload given an address whose port is
// wrong tries it quickTries times and fails with connection refused,
// before reading its source. Without the policy it retried for the whole
// budget (the dialer cancels the upload after 10 dials).
func TestUploadToWrongPortFailsFast(t *testing.T) {
	r := testrelay.Start(t, nil)
	bad := r.Address
	bad.Host = closedPort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var dials atomic.Int32
	var d net.Dialer
	o := Options{}
	o.ClientOptions.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dials.Add(1) >= 10 {
			cancel()
		}
		return d.DialContext(ctx, network, addr)
	}
	var retries atomic.Int32
	o.Progress = func(e Event) {
		if e.Retry {
			retries.Add(1)
		}
	}
	src := &countingReader{r: bytes.NewReader(make([]byte, 100<<10))}
	_, err := Upload(ctx, UploadRequest{Source: src, Size: src.r.Size(), Name: "f", Servers: []string{bad.String()}, Recipients: 1}, o)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("upload to a closed port: %v, want connection refused", err)
	}
	if dials.Load() != quickTries || retries.Load() != quickTries-1 || src.reads.Load() != 0 {
		t.Fatalf("%d dials, %d retries reported, %d reads of the source; want %d, %d, 0",
			dials.Load(), retries.Load(), src.reads.Load(), quickTries, quickTries-1)
	}
}

// TestSimplexUploadToWrongPortFailsFast is the same on the XFTP path.
func TestSimplexUploadToWrongPortFailsFast(t *testing.T) {
	r := testrelay.Start(t, nil)
	bad := r.XFTP
	host, port, err := net.SplitHostPort(closedPort(t))
	if err != nil {
		t.Fatal(err)
	}
	bad.Hosts, bad.Port = []string{host}, port
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var dials atomic.Int32
	src := &countingReader{r: bytes.NewReader(make([]byte, 100<<10))}
	req := SimplexUploadRequest{Source: src, Size: src.r.Size(), Name: "f", Servers: []string{bad.String()},
		dial: func(ctx context.Context, a xftp.Address) (xftpServer, error) {
			if dials.Add(1) >= 10 {
				cancel()
			}
			return dialXFTP(ctx, a)
		}}
	_, err = UploadSimplex(ctx, req, Options{})
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("upload to a closed port: %v, want connection refused", err)
	}
	if dials.Load() != quickTries || src.reads.Load() != 0 {
		t.Fatalf("%d dials, %d reads of the source; want %d and 0", dials.Load(), src.reads.Load(), quickTries)
	}
}

// TestBusyRelayIsWaitedFor: a relay whose first answers, the identity
// proof's included, are 503 with Retry-After is there: an upload waits for
// it within the budget instead of failing after the quick tries.
func TestBusyRelayIsWaitedFor(t *testing.T) {
	r := testrelay.Start(t, nil)
	var fails atomic.Int32
	fails.Store(quickTries)
	r.Wrap = func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if fails.Add(-1) >= 0 {
				w.Header().Set("Retry-After", "0")
				w.WriteHeader(http.StatusServiceUnavailable)
				w.Write([]byte(`{"error":"UNAVAILABLE"}`))
				return
			}
			next.ServeHTTP(w, req)
		})
	}
	src := bytes.NewReader(make([]byte, 10<<10))
	if _, err := Upload(context.Background(), UploadRequest{Source: src, Size: src.Size(), Name: "f", Servers: servers(r), Recipients: 1}, Options{}); err != nil {
		t.Fatalf("upload to a relay busy at first: %v", err)
	}
	if fails.Load() >= 0 {
		t.Fatal("the relay was never busy")
	}
}

// TestDownloadWaitsForRelayDownAtFirst: a relay named by a description was
// reached by the upload that wrote it, so one that is down when a download
// starts is restarting, not mistyped: the download keeps trying within the
// budget and finishes once the relay is back.
func TestDownloadWaitsForRelayDownAtFirst(t *testing.T) {
	r := testrelay.Start(t, nil)
	dir := t.TempDir()
	in := writeRandomFile(t, dir, 100<<10, 7)
	up, err := UploadFile(context.Background(), UploadFileRequest{Path: in, Servers: servers(r), Recipients: 1}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r.Stop()
	var dials atomic.Int32
	var d net.Dialer
	o := Options{}
	o.ClientOptions.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return d.DialContext(ctx, network, addr)
	}
	out := filepath.Join(dir, "out")
	done := make(chan error, 1)
	go func() {
		_, err := DownloadFile(context.Background(), DownloadFileRequest{Description: up.Recipients[0], Output: out}, o)
		done <- err
	}()
	testenv.Eventually(t, 30*time.Second, func() bool { return dials.Load() > quickTries }, "the download stopped trying")
	r.Restart()
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		t.Fatal("the download did not finish after the relay came back")
	}
	if err != nil {
		t.Fatalf("download from a relay down at first: %v", err)
	}
	if fileDigest(t, out) != fileDigest(t, in) {
		t.Fatal("the download differs")
	}
}
