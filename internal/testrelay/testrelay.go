// Package testrelay starts real relays for tests of other packages: the
// service on disk and bbolt storage behind the real TLS HTTP/2 listener, on
// a loopback port.
package testrelay

import (
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/api/httpserver"
	"github.com/xftp/xftp/api/xftp"
	"github.com/xftp/xftp/api/xftpserver"
	"github.com/xftp/xftp/identity"
	"github.com/xftp/xftp/server"
	"github.com/xftp/xftp/storage/disk"
	"github.com/xftp/xftp/storage/embedded"
)

// Relay is a running test relay.
type Relay struct {
	Dir     string
	Address api.Address
	// XFTP is the relay's SimpleX XFTP address (api/xftpserver).
	XFTP    xftp.Address
	Service *server.Service
	// Handler wraps the relay's HTTP handler; tests replace it to inject
	// faults (set before the first request).
	Wrap func(http.Handler) http.Handler
	srv  *http.Server
}

// Options are a test relay's extras.
type Options struct {
	// Blocklist gives the service a blocklist (in the record database).
	Blocklist bool
	// XFTP configures the XFTP binding.
	XFTP xftpserver.Options
	// IdleTimeout, if set, replaces the listener's idle timeout.
	IdleTimeout time.Duration
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
	r := &Relay{Dir: t.TempDir()}
	id, _, err := identity.LoadOrCreate(filepath.Join(r.Dir, "identity.pem"))
	if err != nil {
		t.Fatal(err)
	}
	store, err := disk.Open(filepath.Join(r.Dir, "chunks"))
	if err != nil {
		t.Fatal(err)
	}
	records, err := embedded.Open(filepath.Join(r.Dir, "records.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	so := server.Options{Identity: id, Store: store, Records: records}
	if o.Blocklist {
		if so.Blocklist, err = embedded.NewBlocklist(records); err != nil {
			t.Fatal(err)
		}
	}
	if r.Service, err = server.New(c, so); err != nil {
		t.Fatal(err)
	}
	routes := httpserver.NewHandler(r.Service, httpserver.HandlerOptions{}).Routes()
	handler := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.Wrap != nil {
			r.Wrap(routes).ServeHTTP(w, req)
			return
		}
		routes.ServeHTTP(w, req)
	})
	if r.srv, err = httpserver.NewHTTPServer(handler, id, httpserver.ServerOptions{}); err != nil {
		t.Fatal(err)
	}
	if o.IdleTimeout > 0 {
		r.srv.IdleTimeout = o.IdleTimeout
	}
	creds, _, err := xftpserver.LoadCredentials(id, filepath.Join(r.Dir, "xftp-ca.crt"), time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	xftpserver.New(r.Service, creds, o.XFTP).Configure(r.srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.XFTP = xftp.Address{KeyHash: creds.KeyHash, Hosts: []string{"127.0.0.1"}, Port: strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), Password: c.Password}
	r.Address = api.Address{Fingerprint: id.Fingerprint(), Host: ln.Addr().String(), Password: c.Password}
	go r.srv.ServeTLS(ln, "", "")
	t.Cleanup(func() {
		r.srv.Close()
		records.Close()
	})
	return r
}

// Stop stops the relay early (to test clients against a dead server).
func (r *Relay) Stop() { r.srv.Close() }
