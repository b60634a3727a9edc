// Package testrelay starts real relays for tests of other packages: the
// service on disk and bbolt storage behind the real TLS HTTP/2 listener, on
// a loopback port, with the extras tests ask for (a blocklist, a report
// store, the admin API, a clock, a wrapped store or handler, a restart on
// the same data and port).
package testrelay

import (
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/api/httpserver"
	"github.com/xftp/xftp/api/xftp"
	"github.com/xftp/xftp/api/xftpserver"
	"github.com/xftp/xftp/identity"
	"github.com/xftp/xftp/server"
	"github.com/xftp/xftp/storage"
	"github.com/xftp/xftp/storage/disk"
	"github.com/xftp/xftp/storage/embedded"
)

// Relay is a running test relay.
type Relay struct {
	Dir     string
	Address api.Address
	// XFTP is the relay's SimpleX XFTP address (api/xftpserver); unset
	// with Options.Server.Plain.
	XFTP     xftp.Address
	Identity *identity.Identity
	Service  *server.Service
	// Handler is the public HTTP handler (to read its state in tests).
	Handler *httpserver.Handler
	// AdminURL is the admin API's base URL (plain HTTP on loopback) when
	// Options.AdminToken is set.
	AdminURL string
	// Wrap wraps the relay's HTTP handler; tests replace it to inject
	// faults (set before the first request).
	Wrap func(http.Handler) http.Handler

	t       testing.TB
	cfg     server.Config
	o       Options
	records *embedded.Records
	srv     *http.Server
	admin   *httptest.Server
}

// Options are a test relay's extras.
type Options struct {
	// Blocklist gives the service a blocklist (in the record database).
	Blocklist bool
	// Reports gives the service a report store (in the record database).
	Reports bool
	// AdminToken, if set, serves the admin API with this token at AdminURL.
	AdminToken string
	// XFTP configures the XFTP binding.
	XFTP xftpserver.Options
	// IdleTimeout, if set, replaces the listener's idle timeout.
	IdleTimeout time.Duration
	// Handler configures the public handler (limits, timeouts, web page).
	Handler httpserver.HandlerOptions
	// Server configures the listener (Plain: h2c and HTTP/1.1, as behind
	// a TLS-terminating proxy; there is no XFTP binding then).
	Server httpserver.ServerOptions
	// ConnsPerSource, if set, caps connections per source as xftpd does
	// (httpserver.LimitListener).
	ConnsPerSource int
	// ConnState, if set, is the listener's connection state hook.
	ConnState func(net.Conn, http.ConnState)
	// Now is the service's clock (nil: time.Now); see Clock.
	Now func() time.Time
	// WrapStore, if set, wraps the body store (fault injection).
	WrapStore func(storage.Store) storage.Store
}

// Start starts a relay with cfg (nil: defaults), stopped at test cleanup.
func Start(t testing.TB, cfg *server.Config) *Relay {
	t.Helper()
	return StartWith(t, cfg, Options{})
}

// StartWith is Start with options.
func StartWith(t testing.TB, cfg *server.Config, o Options) *Relay {
	t.Helper()
	c := server.DefaultConfig()
	if cfg != nil {
		c = *cfg
	}
	r := &Relay{Dir: t.TempDir(), t: t, cfg: c, o: o}
	var err error
	if r.Identity, _, err = identity.LoadOrCreate(filepath.Join(r.Dir, "identity.pem")); err != nil {
		t.Fatal(err)
	}
	r.start("127.0.0.1:0")
	t.Cleanup(r.Stop)
	return r
}

// start opens the relay's data in r.Dir and serves it on listen.
func (r *Relay) start(listen string) {
	t, o := r.t, r.o
	t.Helper()
	body, err := disk.Open(filepath.Join(r.Dir, "chunks"))
	if err != nil {
		t.Fatal(err)
	}
	var store storage.Store = body
	if o.WrapStore != nil {
		store = o.WrapStore(store)
	}
	if r.records, err = embedded.Open(filepath.Join(r.Dir, "records.db"), time.Second); err != nil {
		t.Fatal(err)
	}
	so := server.Options{Identity: r.Identity, Store: store, Records: r.records, Now: o.Now}
	if o.Blocklist {
		if so.Blocklist, err = embedded.NewBlocklist(r.records); err != nil {
			t.Fatal(err)
		}
	}
	if o.Reports {
		if so.Reports, err = embedded.NewReports(r.records, o.Now); err != nil {
			t.Fatal(err)
		}
	}
	if r.Service, err = server.New(r.cfg, so); err != nil {
		t.Fatal(err)
	}
	r.Handler = httpserver.NewHandler(r.Service, o.Handler)
	routes := r.Handler.Routes()
	handler := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.Wrap != nil {
			r.Wrap(routes).ServeHTTP(w, req)
			return
		}
		routes.ServeHTTP(w, req)
	})
	if o.IdleTimeout > 0 {
		o.Server.IdleTimeout = o.IdleTimeout
	}
	if r.srv, err = httpserver.NewHTTPServer(handler, r.Identity, o.Server); err != nil {
		t.Fatal(err)
	}
	r.srv.ConnState = o.ConnState
	var creds *xftpserver.Credentials
	if !o.Server.Plain {
		if creds, _, err = xftpserver.LoadCredentials(r.Identity, filepath.Join(r.Dir, "xftp-ca.crt"), time.Now(), time.Hour); err != nil {
			t.Fatal(err)
		}
		xftpserver.New(r.Service, creds, o.XFTP).Configure(r.srv)
	}
	ln := listen1(t, listen)
	port := ln.Addr().(*net.TCPAddr).Port
	r.Address = api.Address{Fingerprint: r.Identity.Fingerprint(), Host: ln.Addr().String(), Password: r.cfg.Password}
	if o.ConnsPerSource > 0 {
		ln = httpserver.LimitListener(ln, o.ConnsPerSource)
	}
	if o.Server.Plain {
		go r.srv.Serve(ln)
	} else {
		r.XFTP = xftp.Address{KeyHash: creds.KeyHash, Hosts: []string{"127.0.0.1"}, Port: strconv.Itoa(port), Password: r.cfg.Password}
		go r.srv.ServeTLS(ln, "", "")
	}
	if o.AdminToken != "" {
		ah, err := httpserver.NewAdminHandler(server.NewModeration(r.Service), o.AdminToken, nil)
		if err != nil {
			t.Fatal(err)
		}
		r.admin = httptest.NewServer(ah.Routes())
		r.AdminURL = r.admin.URL
	}
}

// listen1 listens on addr; a port just given up by a relay that stopped
// may take a moment to be free again, so it retries for a while.
func listen1(t testing.TB, addr string) net.Listener {
	t.Helper()
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; {
		ln, lerr := net.Listen("tcp", addr)
		if lerr == nil {
			return ln
		}
		err = lerr
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // polls: the port is free again when the old socket is gone
	}
	t.Fatalf("listen on %s: %v", addr, err)
	return nil
}

// Stop stops the relay early (to test clients against a dead server).
// Stopping twice is harmless.
func (r *Relay) Stop() {
	if r.srv == nil {
		return
	}
	r.srv.Close()
	if r.admin != nil {
		r.admin.Close()
		r.admin = nil
	}
	r.records.Close()
	r.srv = nil
}

// Restart stops the relay and starts a new one on the same data, identity
// and port, with the same options.
func (r *Relay) Restart() {
	r.t.Helper()
	host := r.Address.Host
	r.Stop()
	r.start(host)
}

// Clock is a test clock: real time moved by Advance, safe for concurrent
// use. Give its Now to Options.Now.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now is the time now, moved by every Advance so far.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the clock by d (backwards if d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}
