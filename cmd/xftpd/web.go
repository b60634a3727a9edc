package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/xftp/xftp/api/httpserver"
	"github.com/xftp/xftp/web"
)

// WebConfig is the browser download page (docs/WEB.md).
type WebConfig struct {
	// Page serves the download page at /d/.
	Page bool `yaml:"page"`
	// Host is the name browsers use for this relay, with an optional
	// :port; links are https://HOST/d/#... . With CertFile, a TLS client
	// that asks for this name by SNI and cannot use the identity
	// certificate (a browser) gets the web certificate.
	Host string `yaml:"host"`
	// CertFile and KeyFile are a PEM certificate chain and key for Host,
	// valid under the web PKI (e.g. from Let's Encrypt). They are re-read
	// when they change.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// hostname is Host without a port.
func (w WebConfig) hostname() string {
	if h, _, err := net.SplitHostPort(w.Host); err == nil {
		return h
	}
	return w.Host
}

func (w WebConfig) validate(tlsOn bool) error {
	switch {
	case (w.CertFile == "") != (w.KeyFile == ""):
		return errors.New("web: cert_file and key_file go together")
	case w.CertFile != "" && w.Host == "":
		return errors.New("web.host: required with web.cert_file (the name the certificate is for)")
	case w.CertFile != "" && !tlsOn:
		return errors.New("web.cert_file: needs tls: true (behind a reverse proxy, the proxy holds the web certificate)")
	case strings.ContainsAny(w.Host, "/# ") || strings.Contains(w.Host, "://"):
		return fmt.Errorf("web.host: %q is not HOST or HOST:PORT", w.Host)
	}
	if w.CertFile != "" {
		if _, err := loadWebCert(w.CertFile, w.KeyFile, w.hostname()); err != nil {
			return err
		}
	}
	return nil
}

// handler is the page's handler, or nil when it is switched off.
func (w WebConfig) handler() http.Handler {
	if !w.Page {
		return nil
	}
	return web.Handler()
}

// apply installs the web certificate next to the identity certificate of
// srv (httpserver.WebCertificate picks one per connection).
func (w WebConfig) apply(srv *http.Server, log *slog.Logger) error {
	if w.CertFile == "" || srv.TLSConfig == nil || len(srv.TLSConfig.Certificates) == 0 {
		return nil
	}
	c := &certFile{cert: w.CertFile, key: w.KeyFile, host: w.hostname(), log: log}
	if err := c.reload(time.Now()); err != nil {
		return err
	}
	idCert := &srv.TLSConfig.Certificates[0]
	srv.TLSConfig.GetCertificate = func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		return httpserver.WebCertificate(idCert, c.get(time.Now()), c.host)(hello)
	}
	log.Info("web certificate loaded", "host", c.host)
	return nil
}

func loadWebCert(certFile, keyFile, host string) (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("web.cert_file: %w", err)
	}
	if err := cert.Leaf.VerifyHostname(host); err != nil {
		return nil, fmt.Errorf("web.cert_file: %w", err)
	}
	return &cert, nil
}

// certFile keeps the web certificate current: it is re-read, at most once a
// minute, when its file changed (a renewal). A broken renewal keeps the old
// certificate and is logged.
type certFile struct {
	cert, key, host string
	log             *slog.Logger

	mu      sync.Mutex
	current *tls.Certificate
	mtime   time.Time
	checked time.Time
}

func (c *certFile) reload(now time.Time) error {
	fi, err := os.Stat(c.cert)
	if err != nil {
		return fmt.Errorf("web.cert_file: %w", err)
	}
	cert, err := loadWebCert(c.cert, c.key, c.host)
	if err != nil {
		return err
	}
	c.current, c.mtime, c.checked = cert, fi.ModTime(), now
	return nil
}

func (c *certFile) get(now time.Time) *tls.Certificate {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Sub(c.checked) < time.Minute {
		return c.current
	}
	c.checked = now
	if fi, err := os.Stat(c.cert); err == nil && !fi.ModTime().Equal(c.mtime) {
		if err := c.reload(now); err != nil {
			c.log.Warn("web certificate not reloaded; keeping the old one", "err", err)
		} else {
			c.log.Info("web certificate reloaded", "host", c.host)
		}
	}
	return c.current
}
