package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/xftp/xftp/api/xftp"
	"github.com/xftp/xftp/api/xftpserver"
	"github.com/xftp/xftp/identity"
	"github.com/xftp/xftp/internal/metrics"
	"github.com/xftp/xftp/server"
)

// XFTPConfig is SimpleX's XFTP protocol, served next to the native one
// (docs/XFTP.md).
type XFTPConfig struct {
	// Enabled serves XFTP on the listener (and Listen, if set).
	Enabled bool `yaml:"enabled"`
	// CAFile keeps the XFTP CA certificate, whose SHA-256 is the key hash
	// in the xftp:// address (default: xftp-ca.crt beside identity_file).
	// Replicas share it as they share the identity.
	CAFile string `yaml:"ca_file"`
	// Listen is an extra HOST:PORT for XFTP clients (e.g. ":443"), served
	// exactly like the main listener; empty: the main listener only.
	Listen string `yaml:"listen"`
	// Host is the name (and :port) put in the XFTP address; default: the
	// address's host, with Listen's port when Listen is set.
	Host string `yaml:"host"`
	// UploadTimeout bounds one FPUT body.
	UploadTimeout Duration `yaml:"upload_timeout"`
}

func defaultXFTPConfig() XFTPConfig {
	return XFTPConfig{Enabled: true, UploadTimeout: Duration(xftpserver.DefaultUploadTimeout)}
}

func (x XFTPConfig) validate() error {
	if x.Listen != "" {
		if _, _, err := net.SplitHostPort(x.Listen); err != nil {
			return fmt.Errorf("xftp.listen: %q is not HOST:PORT", x.Listen)
		}
	}
	if x.UploadTimeout <= 0 {
		return fmt.Errorf("xftp.upload_timeout: must be positive")
	}
	return nil
}

func (c Config) xftpCAPath() string {
	if c.XFTP.CAFile != "" {
		return c.XFTP.CAFile
	}
	return filepath.Join(filepath.Dir(c.identityPath()), "xftp-ca.crt")
}

// loadXFTP loads the XFTP identity, or returns nil when XFTP is off.
func loadXFTP(cfg Config, id *identity.Identity, log *slog.Logger) (*xftpserver.Credentials, error) {
	if !cfg.XFTP.Enabled {
		return nil, nil
	}
	creds, saved, err := xftpserver.LoadCredentials(id, cfg.xftpCAPath(), time.Now(), 10*365*24*time.Hour)
	if err != nil {
		return nil, err
	}
	if !saved {
		log.Warn("the XFTP CA certificate could not be saved; it was made from the identity key again (same key hash while Go's certificate encoding stays the same): make ca_file writable once, or copy it in", "ca_file", cfg.xftpCAPath())
	}
	return creds, nil
}

// startXFTP adds the XFTP binding to srv and returns it, or nil when XFTP
// is off (creds nil).
func startXFTP(cfg Config, svc *server.Service, creds *xftpserver.Credentials, srv *http.Server, mx *metrics.Metrics, log *slog.Logger) *xftpserver.Binding {
	if creds == nil {
		return nil
	}
	o := xftpserver.Options{Logger: log, UploadTimeout: time.Duration(cfg.XFTP.UploadTimeout)}
	if mx != nil {
		o.Observe = mx.ObserveXFTP
	}
	b := xftpserver.New(svc, creds, o)
	b.Configure(srv)
	if !cfg.TLS {
		log.Warn("tls is off (behind a reverse proxy): XFTP serves web clients only; SimpleX's apps need TLS to end at xftpd (docs/XFTP.md)")
	}
	return b
}

// xftpAddress is the relay's xftp:// address.
// mainHost is the main address's host:port; xln, if set, is the extra
// XFTP listener, whose port the address then names.
func xftpAddress(cfg Config, b *xftpserver.Binding, password string, mainHost string, xln net.Listener) (xftp.Address, error) {
	host := mainHost
	if xln != nil {
		h, _, _ := net.SplitHostPort(mainHost)
		host = net.JoinHostPort(h, strconv.Itoa(xln.Addr().(*net.TCPAddr).Port))
	}
	if cfg.XFTP.Host != "" {
		host = cfg.XFTP.Host
	}
	a := xftp.Address{KeyHash: b.Credentials().KeyHash, Port: xftp.DefaultPort}
	h, p, err := net.SplitHostPort(host)
	if err != nil {
		h = host
	} else if _, err := strconv.Atoi(p); err == nil {
		a.Port = p
	}
	a.Hosts = []string{strings.Trim(h, "[]")}
	if password != "" {
		// SimpleX's apps send an upload password only if the address
		// carries it; a password XFTP cannot carry is left out (and said).
		if _, err := xftp.ParseAddress("xftp://" + strings.Repeat("A", 43) + ":" + password + "@h"); err != nil {
			return a, fmt.Errorf("the upload password has characters an xftp:// address cannot carry (space, '@', ':', '/'): XFTP clients cannot upload")
		}
		a.Password = password
	}
	return a, nil
}
