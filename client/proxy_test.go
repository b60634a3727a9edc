package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/api/httpclient"
	"github.com/xftp/xftp/blocklist"
	"github.com/xftp/xftp/chunk"
	"github.com/xftp/xftp/identity"
	"github.com/xftp/xftp/internal/proxy"
	"github.com/xftp/xftp/internal/testrelay"
	"github.com/xftp/xftp/server"
)

// dialFrom dials from a given loopback source address (Linux routes all
// of 127/8 on lo), so each party of a test has an address of its own.
func dialFrom(ip string) func(context.Context, string, string) (net.Conn, error) {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return d.DialContext
}

// peerLog records the source address of every request a relay serves,
// and the bodies of the proxy requests it gets.
type peerLog struct {
	mu     sync.Mutex
	peers  map[string]bool
	bodies [][]byte
}

func (p *peerLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		p.mu.Lock()
		if p.peers == nil {
			p.peers = map[string]bool{}
		}
		p.peers[host] = true
		p.mu.Unlock()
		if r.URL.Path == api.ProxyPath {
			b, _ := io.ReadAll(r.Body)
			p.mu.Lock()
			p.bodies = append(p.bodies, b)
			p.mu.Unlock()
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		next.ServeHTTP(w, r)
	})
}

func (p *peerLog) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.peers, p.bodies = map[string]bool{}, nil
}

func (p *peerLog) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for h := range p.peers {
		out = append(out, h)
	}
	sort.Strings(out)
	return out
}

// proxyRelay is a test relay with the proxy role on, dialling next hops
// from its own source address.
type proxyRelay struct {
	*testrelay.Relay
	src    string
	log    peerLog
	fwd    *proxy.Forwarder
	tamper atomic.Bool // flip a byte of every answer it relays
	count  countingMetrics
}

type countingMetrics struct{ forwarded, refused atomic.Int64 }

func (m *countingMetrics) Count(e server.Event, n int) {
	switch e {
	case proxy.EventForwarded:
		m.forwarded.Add(int64(n))
	case proxy.EventRefused:
		m.refused.Add(int64(n))
	}
}
func (m *countingMetrics) Bytes(server.Event, int64) {}

func startProxyRelay(t testing.TB, src string, o proxy.Options) *proxyRelay {
	p := &proxyRelay{Relay: testrelay.Start(t, nil), src: src}
	o.Identity = p.Service.Identity()
	o.ClientOptions.Dial = dialFrom(src)
	o.Metrics = &p.count
	fwd, err := proxy.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fwd.Close)
	p.fwd = fwd
	ph := fwd.Handler()
	p.Wrap = func(next http.Handler) http.Handler {
		return p.log.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasPrefix(r.URL.Path, api.ProxyPath) {
				next.ServeHTTP(w, r)
				return
			}
			if p.tamper.Load() && r.URL.Path == api.ProxyPath {
				w = &flipWriter{ResponseWriter: w, at: 3000}
			}
			ph.ServeHTTP(w, r)
		}))
	}
	return p
}

// flipWriter flips one byte of the body at offset at.
type flipWriter struct {
	http.ResponseWriter
	at, n int
}

func (f *flipWriter) Write(p []byte) (int, error) {
	if f.at >= f.n && f.at < f.n+len(p) {
		q := append([]byte{}, p...)
		q[f.at-f.n] ^= 0x40
		p = q
	}
	f.n += len(p)
	return f.ResponseWriter.Write(p)
}

func (f *flipWriter) Unwrap() http.ResponseWriter { return f.ResponseWriter }

func proxyAddrs(ps ...*proxyRelay) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Address.String())
	}
	return out
}

type dest struct {
	*testrelay.Relay
	log peerLog
}

func startDest(t testing.TB) *dest {
	d := &dest{Relay: testrelay.Start(t, nil)}
	d.Wrap = d.log.wrap
	return d
}

const clientIP = "127.0.0.2"

func proxiedOptions(proxies []string, hops int) Options {
	return Options{Attempts: 3, ClientOptions: httpclient.ClientOptions{Dial: dialFrom(clientIP)},
		Proxy: ProxyOptions{Proxies: proxies, Hops: hops}}
}

func uploadTo(t testing.TB, d *testrelay.Relay, size int64) (*chunk.Description, string) {
	t.Helper()
	dir := t.TempDir()
	in := writeRandomFile(t, dir, size, uint64(size))
	up, err := UploadFile(context.Background(), UploadFileRequest{Path: in, Servers: servers(d), Recipients: 1}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return up.Recipients[0], in
}

func proxyDownload(t *testing.T, d *chunk.Description, o Options, keep bool) (string, error) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	_, err := DownloadFile(context.Background(), DownloadFileRequest{Description: d, Output: out, Keep: keep}, o)
	return out, err
}

// TestProxyChainsHideTheClient downloads through chains of 0 to 3
// proxies, each party on its own loopback address: the destination sees
// only the last proxy, each proxy only its neighbours, and the first proxy
// gets neither the destination's address nor the chunk's IDs.
func TestProxyChainsHideTheClient(t *testing.T) {
	d := startDest(t)
	var ps []*proxyRelay
	for i := range 3 {
		ps = append(ps, startProxyRelay(t, fmt.Sprintf("127.0.0.%d", 11+i), proxy.Options{}))
	}
	desc, in := uploadTo(t, d.Relay, 5<<20+123) // two chunks
	for n := 0; n <= 3; n++ {
		t.Run(fmt.Sprintf("%d proxies", n), func(t *testing.T) {
			d.log.reset()
			for _, p := range ps {
				p.log.reset()
			}
			out, err := proxyDownload(t, desc, proxiedOptions(proxyAddrs(ps[:n]...), 0), n < 3)
			if err != nil {
				t.Fatal(err)
			}
			if fileDigest(t, out) != fileDigest(t, in) {
				t.Fatal("downloaded file differs")
			}
			want := clientIP
			if n > 0 {
				want = ps[n-1].src
			}
			if got := d.log.seen(); len(got) != 1 || got[0] != want {
				t.Fatalf("the destination saw %v, want only %s", got, want)
			}
			for i := 0; i < n; i++ {
				prev := clientIP
				if i > 0 {
					prev = ps[i-1].src
				}
				if got := ps[i].log.seen(); len(got) != 1 || got[0] != prev {
					t.Fatalf("proxy %d saw %v, want only %s", i+1, got, prev)
				}
			}
			for i := n; i < 3; i++ {
				if got := ps[i].log.seen(); len(got) != 0 {
					t.Fatalf("proxy %d, not on the route, saw %v", i+1, got)
				}
			}
			if n >= 2 {
				secrets := [][]byte{[]byte(d.Address.Host), []byte(d.Address.Fingerprint.String())}
				for _, c := range desc.Chunks {
					secrets = append(secrets, c.Replicas[0].ID, []byte(api.B64(c.Replicas[0].ID).String()))
				}
				for _, b := range ps[0].log.bodies {
					for _, s := range secrets {
						if bytes.Contains(b, s) {
							t.Fatal("the first proxy got the destination's address or a chunk ID")
						}
					}
				}
			}
		})
	}
	// The last download acknowledged its chunks through the chain: they
	// are gone for this recipient.
	if _, err := proxyDownload(t, desc, Options{Attempts: 1}, true); err == nil || !strings.Contains(err.Error(), "AUTH") {
		t.Fatalf("download after the proxied acknowledgement: %v", err)
	}
	for i, p := range ps {
		if p.count.forwarded.Load() == 0 || p.count.refused.Load() != 0 {
			t.Errorf("proxy %d counted %d forwarded, %d refused", i+1, p.count.forwarded.Load(), p.count.refused.Load())
		}
	}
}

// TestProxyTamperingIsDetected: a proxy that flips a byte of what it
// relays is caught by the client; a spare route recovers, and without one
// the download fails naming the proxy, never falling back to direct.
func TestProxyTamperingIsDetected(t *testing.T) {
	d := startDest(t)
	bad := startProxyRelay(t, "127.0.0.21", proxy.Options{})
	good := startProxyRelay(t, "127.0.0.22", proxy.Options{})
	other := startProxyRelay(t, "127.0.0.23", proxy.Options{})
	bad.tamper.Store(true)
	desc, in := uploadTo(t, d.Relay, 300<<10)

	t.Run("no spare", func(t *testing.T) {
		d.log.reset()
		_, err := proxyDownload(t, desc, proxiedOptions(proxyAddrs(bad), 0), true)
		var pe *httpclient.ProxyError
		if !errors.Is(err, ErrNoProxyRoute) || !errors.As(err, &pe) || !errors.Is(err, httpclient.ErrTransport) ||
			!strings.Contains(err.Error(), bad.Address.Redacted()) || !strings.Contains(err.Error(), "changed") {
			t.Fatalf("download through a tampering proxy: %v", err)
		}
		if got := d.log.seen(); len(got) != 1 || got[0] != bad.src {
			t.Fatalf("the destination saw %v: the client fell back to a direct connection", got)
		}
	})
	t.Run("spare first hop", func(t *testing.T) {
		out, err := proxyDownload(t, desc, proxiedOptions(proxyAddrs(bad, good), 1), true)
		if err != nil {
			t.Fatal(err)
		}
		if fileDigest(t, out) != fileDigest(t, in) {
			t.Fatal("downloaded file differs")
		}
	})
	t.Run("spare second hop", func(t *testing.T) {
		// bad is the second hop of the first route: the client cannot
		// tell whether good or bad changed the answer, so neither is
		// banned; the route is dropped and routes with fewer suspects
		// come first.
		bad.log.reset()
		out, err := proxyDownload(t, desc, proxiedOptions(proxyAddrs(good, bad, other), 2), true)
		if err != nil {
			t.Fatal(err)
		}
		if len(bad.log.seen()) == 0 {
			t.Fatal("the tampering proxy was never on the route")
		}
		if fileDigest(t, out) != fileDigest(t, in) {
			t.Fatal("downloaded file differs")
		}
	})
}

// TestProxyRefusalsNameTheProxy: a proxy that will not forward gives an
// error naming it, whether it is the first hop or a later one.
func TestProxyRefusalsNameTheProxy(t *testing.T) {
	d := startDest(t)
	stranger, _, err := identity.LoadOrCreate(filepath.Join(t.TempDir(), "id.pem"))
	if err != nil {
		t.Fatal(err)
	}
	picky := startProxyRelay(t, "127.0.0.31", proxy.Options{Allow: []identity.Fingerprint{stranger.Fingerprint()}})
	open := startProxyRelay(t, "127.0.0.32", proxy.Options{})
	notProxy := testrelay.Start(t, nil)
	desc, _ := uploadTo(t, d.Relay, 1000)
	for _, c := range []struct {
		name    string
		route   []string
		blame   string
		want    string
		reports bool
	}{
		{"first hop refuses", []string{picky.Address.String()}, picky.Address.Redacted(), "PROXY_REFUSED", false},
		{"second hop refuses", []string{open.Address.String(), picky.Address.String()}, picky.Address.Redacted(), "PROXY_REFUSED", true},
		{"not a proxy", []string{notProxy.Address.String()}, notProxy.Address.Redacted(), "not a proxy", false},
		{"second hop not a proxy", []string{open.Address.String(), notProxy.Address.String()}, notProxy.Address.Redacted(), "not a proxy", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := proxyDownload(t, desc, proxiedOptions(c.route, 0), true)
			var pe *httpclient.ProxyError
			if !errors.As(err, &pe) || !errors.Is(err, ErrNoProxyRoute) {
				t.Fatalf("got %v", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, c.blame) || !strings.Contains(msg, c.want) || strings.Contains(msg, "as reported by") != c.reports {
				t.Fatalf("message %q does not name %s with %s", msg, c.blame, c.want)
			}
		})
	}
	if picky.count.refused.Load() == 0 {
		t.Error("refusals are not counted")
	}
}

// TestProxyBlockedChunkRecordVerifies: a 451 travels back through two
// proxies unchanged and verifies against the destination's fingerprint.
func TestProxyBlockedChunkRecordVerifies(t *testing.T) {
	br := startBlockingRelay(t)
	p1 := startProxyRelay(t, "127.0.0.41", proxy.Options{})
	p2 := startProxyRelay(t, "127.0.0.42", proxy.Options{})
	desc, _ := uploadTo(t, br.Relay, 1000)
	br.suffix.Store("/download")
	br.mode.Store("valid")
	_, err := proxyDownload(t, desc, proxiedOptions(proxyAddrs(p1, p2), 0), true)
	var be *BlockedError
	var rbe *blocklist.BlockedError
	if !errors.As(err, &be) || !errors.As(err, &rbe) || rbe.Record.Record.Server != br.Address.Fingerprint {
		t.Fatalf("download of a blocked chunk through two proxies: %v", err)
	}
	if !bytes.Equal(rbe.Record.Record.ChunkID, desc.Chunks[0].Replicas[0].ID) {
		t.Fatal("the record names another chunk")
	}
	br.mode.Store("forged")
	_, err = proxyDownload(t, desc, proxiedOptions(proxyAddrs(p1, p2), 0), true)
	if !errors.Is(err, httpclient.ErrInvalidBlockingRecord) {
		t.Fatalf("a forged record through proxies: %v", err)
	}
}

// TestProxyThatIsTheDestination: a warning, and routes without it first.
func TestProxyThatIsTheDestination(t *testing.T) {
	both := startProxyRelay(t, "127.0.0.51", proxy.Options{})
	other := startProxyRelay(t, "127.0.0.52", proxy.Options{})
	desc, _ := uploadTo(t, both.Relay, 1000)
	both.log.reset()
	var warns []string
	o := proxiedOptions(proxyAddrs(both, other), 1)
	o.Warn = func(s string) { warns = append(warns, s) }
	if _, err := proxyDownload(t, desc, o, true); err != nil {
		t.Fatal(err)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], both.Address.Redacted()) {
		t.Fatalf("warnings: %q", warns)
	}
	if got := both.log.seen(); len(got) != 1 || got[0] != other.src {
		t.Fatalf("the destination saw %v; the route through the other proxy was not preferred", got)
	}
}

// TestProxyDirectOperator: servers of a trusted operator are reached
// directly, the others through the proxies.
func TestProxyDirectOperator(t *testing.T) {
	d := startDest(t)
	p := startProxyRelay(t, "127.0.0.61", proxy.Options{})
	desc, _ := uploadTo(t, d.Relay, 1000)
	o := proxiedOptions(proxyAddrs(p), 0)
	o.Proxy.Direct = []identity.Fingerprint{d.Address.Fingerprint}
	d.log.reset()
	if _, err := proxyDownload(t, desc, o, true); err != nil {
		t.Fatal(err)
	}
	if got := d.log.seen(); len(got) != 1 || got[0] != clientIP {
		t.Fatalf("the trusted server saw %v", got)
	}
	if got := p.log.seen(); len(got) != 0 {
		t.Fatalf("the proxy was used for a trusted server: %v", got)
	}
}

func TestCombinations(t *testing.T) {
	got := fmt.Sprint(combinations(4, 2))
	if got != "[[0 1] [0 2] [0 3] [1 2] [1 3] [2 3]]" {
		t.Fatal(got)
	}
	if n := len(combinations(3, 3)); n != 1 {
		t.Fatal(n)
	}
}

// TestProxyRedirectAcksGoThroughTheRoute: a redirect downloaded through a
// proxy acknowledges its own chunks through the proxy too; the destination
// never sees the client's address (issue 20, item 1).
func TestProxyRedirectAcksGoThroughTheRoute(t *testing.T) {
	d := startDest(t)
	p := startProxyRelay(t, "127.0.0.71", proxy.Options{})
	desc, in := uploadTo(t, d.Relay, 1000)
	r, err := Redirect(context.Background(), desc, servers(d.Relay), Options{})
	if err != nil {
		t.Fatal(err)
	}
	d.log.reset()
	out, err := proxyDownload(t, r, proxiedOptions(proxyAddrs(p), 0), false)
	if err != nil {
		t.Fatal(err)
	}
	if fileDigest(t, out) != fileDigest(t, in) {
		t.Fatal("downloaded file differs")
	}
	if got := d.log.seen(); len(got) != 1 || got[0] != p.src {
		t.Fatalf("the destination saw %v, want only the proxy %s", got, p.src)
	}
	// The redirect's chunks were acknowledged (through the proxy).
	if _, err := proxyDownload(t, r, Options{Attempts: 1}, true); err == nil {
		t.Fatal("the redirect still works: its chunks were not acknowledged")
	}
}

// TestRedirectTooLargeIsRefusedBeforeFetching: a redirect whose target is
// larger than any description is refused before a byte of it is fetched
// (issue 20, item 11).
func TestRedirectTooLargeIsRefusedBeforeFetching(t *testing.T) {
	d := startDest(t)
	desc, _ := uploadTo(t, d.Relay, maxRedirectTarget+5<<20)
	r := *desc
	r.Party = chunk.PartyRedirect
	d.log.reset()
	_, err := proxyDownload(t, &r, Options{Attempts: 1}, true)
	if err == nil || !strings.Contains(err.Error(), "too large to be a description") {
		t.Fatalf("download of an oversized redirect: %v", err)
	}
	if got := d.log.seen(); len(got) != 0 {
		t.Fatalf("the redirect's target was fetched from %v before its size was checked", got)
	}
}

// TestProxyReportsGoThroughTheRoute: with proxies, an abuse report reaches
// the destination from the last proxy, not from the reporter (issue 20,
// item 14).
func TestProxyReportsGoThroughTheRoute(t *testing.T) {
	d := startDest(t)
	p := startProxyRelay(t, "127.0.0.81", proxy.Options{})
	desc, _ := uploadTo(t, d.Relay, 1000)
	d.log.reset()
	res, err := Report(context.Background(), desc, "spam", "", proxiedOptions(proxyAddrs(p), 0))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		// Reports are not configured on test relays: the destination's
		// own refusal is fine; it came through the proxy.
		var ae *api.Error
		if r.Err != nil && !errors.As(r.Err, &ae) {
			t.Fatalf("report: %v", r.Err)
		}
	}
	if got := d.log.seen(); len(got) != 1 || got[0] != p.src {
		t.Fatalf("the destination saw %v, want only the proxy %s", got, p.src)
	}
}
