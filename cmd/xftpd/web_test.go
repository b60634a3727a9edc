package main

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xftp/xftp/identity"
)

// writeWebCert writes a self-signed certificate for host and its key.
func writeWebCert(t *testing.T, dir, host string, notAfter time.Time) (string, string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalPKCS8PrivateKey(key)
	cert, keyFile := filepath.Join(dir, "web.crt"), filepath.Join(dir, "web.key")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600)
	return cert, keyFile
}

func TestWebConfig(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeWebCert(t, dir, "files.example.org", time.Now().Add(time.Hour))
	for _, tc := range []struct {
		name string
		yaml string
		err  string
	}{
		{"default: page only", "", ""},
		{"host only (behind a proxy)", "tls: false\nweb:\n  host: files.example.org\n", ""},
		{"certificate", "web:\n  host: files.example.org:5443\n  cert_file: " + cert + "\n  key_file: " + key + "\n", ""},
		{"certificate for another name", "web:\n  host: other.example.org\n  cert_file: " + cert + "\n  key_file: " + key + "\n", "web.cert_file"},
		{"certificate without key", "web:\n  host: files.example.org\n  cert_file: " + cert + "\n", "go together"},
		{"certificate without host", "web:\n  cert_file: " + cert + "\n  key_file: " + key + "\n", "web.host"},
		{"certificate with tls off", "tls: false\nweb:\n  host: files.example.org\n  cert_file: " + cert + "\n  key_file: " + key + "\n", "tls: true"},
		{"host is a URL", "web:\n  host: https://files.example.org/\n", "web.host"},
		{"unknown key", "web:\n  hots: x\n", "hots"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadConfig(writeConfig(t, "data: "+t.TempDir()+"\n"+tc.yaml), env(nil))
			if err == nil {
				_, err = c.serverConfig(env(nil))
			}
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("got %v, want %q", err, tc.err)
			}
			if tc.err == "" && !c.Web.Page {
				t.Fatal("the page is on by default")
			}
		})
	}
}

// TestWebCertificateServedAndReloaded: browsers (no Ed25519) asking for the
// web host get the web certificate, re-read after a renewal; xftp clients
// keep getting the identity certificate.
func TestWebCertificateServedAndReloaded(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeWebCert(t, dir, "files.example.org", time.Now().Add(time.Hour))
	_, idKey, _ := ed25519Key()
	idCert, err := (&identity.Identity{Key: idKey}).Certificate(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{TLSConfig: &tls.Config{Certificates: []tls.Certificate{idCert}}}
	w := WebConfig{Host: "files.example.org", CertFile: cert, KeyFile: key}
	if err := w.apply(srv, discard()); err != nil {
		t.Fatal(err)
	}
	browser := &tls.ClientHelloInfo{ServerName: "files.example.org", SignatureSchemes: []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256}}
	xftp := &tls.ClientHelloInfo{ServerName: "files.example.org", SignatureSchemes: []tls.SignatureScheme{tls.Ed25519, tls.ECDSAWithP256AndSHA256}}
	first, _ := srv.TLSConfig.GetCertificate(browser)
	if first.Leaf == nil || first.Leaf.DNSNames[0] != "files.example.org" {
		t.Fatal("browser did not get the web certificate")
	}
	if got, _ := srv.TLSConfig.GetCertificate(xftp); got.Leaf != idCert.Leaf {
		t.Fatal("xftp client did not get the identity certificate")
	}
	// A renewal: a new file with a later mtime is picked up by the next
	// check, at most once a minute.
	c := &certFile{cert: cert, key: key, host: "files.example.org", log: discard()}
	now := time.Now()
	if err := c.reload(now); err != nil {
		t.Fatal(err)
	}
	old := c.get(now).Leaf.NotAfter
	writeWebCert(t, dir, "files.example.org", time.Now().Add(2*time.Hour))
	later := time.Now().Add(time.Hour)
	os.Chtimes(cert, later, later)
	if c.get(now.Add(30*time.Second)).Leaf.NotAfter != old {
		t.Fatal("reloaded within the minute")
	}
	if c.get(now.Add(2 * time.Minute)).Leaf.NotAfter.Equal(old) {
		t.Fatal("renewed certificate not reloaded")
	}
	// A broken renewal keeps the current certificate.
	os.WriteFile(cert, []byte("garbage"), 0o600)
	os.Chtimes(cert, later.Add(time.Hour), later.Add(time.Hour))
	if got := c.get(now.Add(5 * time.Minute)); got == nil || got.Leaf.NotAfter.Equal(old) {
		t.Fatal("a broken renewal replaced the certificate")
	}
}

func ed25519Key() (ed25519.PublicKey, ed25519.PrivateKey, error) {
	return ed25519.GenerateKey(rand.Reader)
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
