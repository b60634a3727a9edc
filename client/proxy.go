package client

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/api/httpclient"
	"github.com/xftp/xftp/identity"
	"github.com/xftp/xftp/internal/onion"
)

// ProxyOptions route downloads through receiving proxies, so that the
// servers holding the chunks never see this client's address (see
// docs/PROXY.md). Without proxies every server is reached directly.
type ProxyOptions struct {
	// Proxies are proxy addresses; a route uses Hops of them, in this
	// order.
	Proxies []string
	// Hops is the number of proxies on a route (default: all of them).
	// With more proxies than hops, other routes stand by: a route whose
	// proxy refuses or changes an answer gives way to one without it.
	Hops int
	// Direct lists the fingerprints of servers reached without proxies:
	// those of an operator trusted with this client's address.
	Direct []identity.Fingerprint
}

// maxProxies bounds the proxies a client combines into routes (a longer
// route's layers would not fit what proxies accept).
const maxProxies = onion.MaxHops

// ErrNoProxyRoute means every route through the configured proxies
// failed. xftp never falls back to a direct connection when proxies were
// asked for.
var ErrNoProxyRoute = errors.New("no route through the proxies works (xftp does not fall back to a direct connection when proxies are configured)")

// chunkDownloader is what downloads need of a server: *httpclient.Client
// directly, or a server behind proxies.
type chunkDownloader interface {
	Download(ctx context.Context, recipientID []byte, recipient ed25519.PrivateKey, size int64) (io.ReadCloser, error)
	Ack(ctx context.Context, recipientID []byte, recipient ed25519.PrivateKey) error
	Report(ctx context.Context, recipientID []byte, recipient ed25519.PrivateKey, reason, contact string) error
}

var (
	_ chunkDownloader = (*httpclient.Client)(nil)
	_ chunkDownloader = (*proxied)(nil)
)

// downloader returns how to download from server: through the proxies
// unless none are configured or the server's operator is trusted.
func (p *pool) downloader(server string) (chunkDownloader, error) {
	if p.proxy == nil {
		return p.get(server)
	}
	addr, err := api.ParseAddress(server)
	if err != nil {
		return nil, err
	}
	if p.proxy.direct[addr.Fingerprint] {
		return p.get(server)
	}
	p.proxy.checkDestination(addr)
	return &proxied{r: p.proxy, dest: addr}, nil
}

// newDownloadPool returns the pool for a recipient's requests (downloads
// and acknowledgements): through the proxies when o asks for them. Every
// recipient request of an operation goes through a pool made here, so none
// can reach a server from this client's address by mistake.
func newDownloadPool(o *Options) (*pool, error) {
	r, err := newRouter(o)
	if err != nil {
		return nil, err
	}
	p := newPool(o.ClientOptions)
	p.proxy = r
	return p, nil
}

// router holds the routes through the proxies for one operation, and what
// it learned about the proxies: a proxy that alone must have refused or
// changed an answer is banned; one of two suspects is tried last.
type router struct {
	proxies []api.Address
	routes  [][]int // indexes into proxies, each in the order given
	direct  map[identity.Fingerprint]bool
	copts   httpclient.ClientOptions
	warn    func(string)

	mu      sync.Mutex
	banned  map[int]bool
	suspect map[int]int
	failed  map[int]bool // routes
	built   map[int]*httpclient.Route
	firsts  map[int]*httpclient.Client
	warned  map[identity.Fingerprint]bool
}

// newRouter returns nil when o asks for no proxies.
func newRouter(o *Options) (*router, error) {
	po := o.Proxy
	if len(po.Proxies) == 0 {
		if len(po.Direct) > 0 {
			return nil, errors.New("servers to reach directly were given, but no proxy")
		}
		return nil, nil
	}
	if len(po.Proxies) > maxProxies {
		return nil, fmt.Errorf("at most %d proxies", maxProxies)
	}
	r := &router{direct: map[identity.Fingerprint]bool{}, copts: o.ClientOptions, warn: o.warn,
		banned: map[int]bool{}, suspect: map[int]int{}, failed: map[int]bool{}, built: map[int]*httpclient.Route{},
		firsts: map[int]*httpclient.Client{}, warned: map[identity.Fingerprint]bool{}}
	seen := map[identity.Fingerprint]bool{}
	for _, s := range po.Proxies {
		a, err := api.ParseAddress(s)
		if err != nil {
			return nil, fmt.Errorf("proxy: %w", err)
		}
		if seen[a.Fingerprint] {
			return nil, fmt.Errorf("proxy %s is given twice: a route needs different proxies", a.Redacted())
		}
		seen[a.Fingerprint] = true
		a.Password = ""
		r.proxies = append(r.proxies, a)
	}
	hops := po.Hops
	if hops == 0 {
		hops = len(r.proxies)
	}
	if hops < 1 || hops > len(r.proxies) {
		return nil, fmt.Errorf("%d proxy hops asked for, but %d proxies given", hops, len(r.proxies))
	}
	r.routes = combinations(len(r.proxies), hops)
	for _, fp := range po.Direct {
		r.direct[fp] = true
	}
	return r, nil
}

// combinations returns every k-subset of 0..n-1, each in ascending order,
// in lexicographic order (the first is the first k proxies as given).
func combinations(n, k int) [][]int {
	var out [][]int
	cur := make([]int, 0, k)
	var rec func(start int)
	rec = func(start int) {
		if len(cur) == k {
			out = append(out, append([]int(nil), cur...))
			return
		}
		for i := start; i <= n-(k-len(cur)); i++ {
			cur = append(cur, i)
			rec(i + 1)
			cur = cur[:len(cur)-1]
		}
	}
	rec(0)
	return out
}

// checkDestination warns, once per server, when a proxy is the destination
// itself: that proxy would see both this client and the chunk's server.
func (r *router) checkDestination(dest api.Address) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.warned[dest.Fingerprint] {
		return
	}
	r.warned[dest.Fingerprint] = true
	for _, p := range r.proxies {
		if p.Fingerprint == dest.Fingerprint {
			r.warn(fmt.Sprintf("proxy %s is also the server of a chunk: routes without it are preferred, as it would learn both ends", p.Redacted()))
		}
	}
}

// candidates returns the routes worth trying for dest, best first: not
// failed, without banned proxies, without dest itself, fewest suspects.
func (r *router) candidates(dest api.Address) []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	type cand struct{ route, self, suspects int }
	var cs []cand
next:
	for i, rt := range r.routes {
		if r.failed[i] {
			continue
		}
		c := cand{route: i}
		for _, p := range rt {
			if r.banned[p] {
				continue next
			}
			if r.proxies[p].Fingerprint == dest.Fingerprint {
				c.self = 1
			}
			c.suspects += r.suspect[p]
		}
		cs = append(cs, c)
	}
	sort.SliceStable(cs, func(a, b int) bool {
		if cs[a].self != cs[b].self {
			return cs[a].self < cs[b].self
		}
		return cs[a].suspects < cs[b].suspects
	})
	out := make([]int, len(cs))
	for i, c := range cs {
		out[i] = c.route
	}
	return out
}

func (r *router) route(i int) *httpclient.Route {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rt, ok := r.built[i]; ok {
		return rt
	}
	var addrs []api.Address
	for _, p := range r.routes[i] {
		addrs = append(addrs, r.proxies[p])
	}
	first := r.routes[i][0]
	c, ok := r.firsts[first]
	if !ok {
		c = httpclient.NewClient(r.proxies[first], r.copts)
		r.firsts[first] = c
	}
	rt := httpclient.NewRoute(c, addrs, r.copts.Now)
	r.built[i] = rt
	return rt
}

// blame records a proxy failure on route i: the route is not used again,
// a lone suspect is banned, and each of several is tried last.
func (r *router) blame(i int, pe *httpclient.ProxyError) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed[i] = true
	for _, s := range pe.Suspects {
		for j, p := range r.proxies {
			if p.Fingerprint != s.Fingerprint {
				continue
			}
			if len(pe.Suspects) == 1 {
				r.banned[j] = true
			}
			r.suspect[j]++
		}
	}
}

func (r *router) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.firsts {
		c.Close()
	}
}

// proxied is a destination server reached through the router's routes.
type proxied struct {
	r    *router
	dest api.Address
}

// Download tries the routes in turn until one gets an answer from the
// destination. A route that fails later, while the chunk streams, is
// blamed by the reader; the caller's retry then takes another route.
func (s *proxied) Download(ctx context.Context, recipientID []byte, recipient ed25519.PrivateKey, size int64) (io.ReadCloser, error) {
	var rc io.ReadCloser
	err := s.try(ctx, func(i int, rt *httpclient.Route) error {
		var err error
		if rc, err = rt.Download(ctx, s.dest, recipientID, recipient, size); err == nil {
			rc = &blameReader{rc: rc, r: s.r, route: i}
		}
		return err
	})
	return rc, err
}

// Ack acknowledges through the first route that works.
func (s *proxied) Ack(ctx context.Context, recipientID []byte, recipient ed25519.PrivateKey) error {
	return s.try(ctx, func(_ int, rt *httpclient.Route) error {
		return rt.Ack(ctx, s.dest, recipientID, recipient)
	})
}

// Report sends an abuse report through the first route that works.
func (s *proxied) Report(ctx context.Context, recipientID []byte, recipient ed25519.PrivateKey, reason, contact string) error {
	return s.try(ctx, func(_ int, rt *httpclient.Route) error {
		return rt.Report(ctx, s.dest, recipientID, recipient, reason, contact)
	})
}

func (s *proxied) try(ctx context.Context, op func(int, *httpclient.Route) error) error {
	var last error
	for _, i := range s.r.candidates(s.dest) {
		err := op(i, s.r.route(i))
		var pe *httpclient.ProxyError
		if err == nil || !errors.As(err, &pe) || ctx.Err() != nil {
			return err // done, or the destination's own answer
		}
		if !pe.Temporary() {
			s.r.blame(i, pe)
		}
		last = err
	}
	if len(s.r.candidates(s.dest)) == 0 {
		if last == nil {
			return ErrNoProxyRoute
		}
		return fmt.Errorf("%w: %w", ErrNoProxyRoute, last)
	}
	return last // a proxy was busy: the caller retries later
}

// blameReader blames the route when the answer fails authentication while
// it streams.
type blameReader struct {
	rc    io.ReadCloser
	r     *router
	route int
}

func (b *blameReader) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	var pe *httpclient.ProxyError
	if err != nil && errors.As(err, &pe) && !pe.Temporary() {
		b.r.blame(b.route, pe)
	}
	return n, err
}

func (b *blameReader) Close() error { return b.rc.Close() }
