package api

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/xftp/xftp/identity"
)

// Address is a server address:
//
//	xftp://<fingerprint>[:<password>]@<host>:<port>[?tls=web]
//
// The fingerprint pins the server's identity key; the optional password is
// the server's upload password. By default the TLS peer must present the
// pinned key itself. "?tls=web" says that a reverse proxy terminates TLS
// with a web certificate: the client then also accepts a certificate valid
// for the host under the system's roots, and relies on the identity
// challenge and signed download keys (see docs/PROTOCOL.md).
type Address struct {
	Fingerprint identity.Fingerprint
	Password    string
	Host        string // host:port
	WebTLS      bool
}

// ParseAddress parses and validates an address.
func ParseAddress(s string) (Address, error) {
	var a Address
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return a, fmt.Errorf("server address %q: %w", s, err)
	}
	if u.Scheme != "xftp" {
		return a, fmt.Errorf("server address %q: must start with xftp://", s)
	}
	if u.User == nil || u.User.Username() == "" {
		return a, fmt.Errorf("server address %q: missing the server fingerprint before '@'", s)
	}
	if a.Fingerprint, err = identity.ParseFingerprint(u.User.Username()); err != nil {
		return a, fmt.Errorf("server address %q: %w", s, err)
	}
	a.Password, _ = u.User.Password()
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || host == "" || port == "" {
		return a, fmt.Errorf("server address %q: want host:port after '@'", s)
	}
	switch u.RawQuery {
	case "":
	case "tls=web":
		a.WebTLS = true
	default:
		return a, fmt.Errorf("server address %q: unknown option %q (only tls=web)", s, u.RawQuery)
	}
	if (u.Path != "" && u.Path != "/") || u.Fragment != "" {
		return a, fmt.Errorf("server address %q: unexpected path or fragment", s)
	}
	a.Host = u.Host
	return a, nil
}

// String formats the address, including its password.
func (a Address) String() string {
	u := url.URL{Scheme: "xftp", Host: a.Host}
	if a.WebTLS {
		u.RawQuery = "tls=web"
	}
	if a.Password != "" {
		u.User = url.UserPassword(a.Fingerprint.String(), a.Password)
	} else {
		u.User = url.User(a.Fingerprint.String())
	}
	return u.String()
}

// Redacted formats the address without its password, for messages.
func (a Address) Redacted() string {
	a.Password = ""
	return a.String()
}
