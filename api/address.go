package api

import (
	"errors"
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

// ParseAddress parses and validates an address. Its errors quote the
// address without its password.
func ParseAddress(s string) (Address, error) {
	var a Address
	q := RedactAddress(s)
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		// url.Error quotes the whole input, password included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return a, fmt.Errorf("server address %q: %w", q, err)
	}
	if u.Scheme != "xftp" {
		return a, fmt.Errorf("server address %q: must start with xftp://", q)
	}
	if u.User == nil || u.User.Username() == "" {
		return a, fmt.Errorf("server address %q: missing the server fingerprint before '@'", q)
	}
	if a.Fingerprint, err = identity.ParseFingerprint(u.User.Username()); err != nil {
		return a, fmt.Errorf("server address %q: %w", q, err)
	}
	a.Password, _ = u.User.Password()
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || host == "" || port == "" {
		return a, fmt.Errorf("server address %q: want host:port after '@'", q)
	}
	switch u.RawQuery {
	case "":
	case "tls=web":
		a.WebTLS = true
	default:
		return a, fmt.Errorf("server address %q: unknown option %q (only tls=web)", q, u.RawQuery)
	}
	if (u.Path != "" && u.Path != "/") || u.Fragment != "" {
		return a, fmt.Errorf("server address %q: unexpected path or fragment", q)
	}
	a.Host = u.Host
	return a, nil
}

// RedactAddress drops what may be a password from an address as typed,
// for messages:
// whatever follows the first ':' of the part before the last '@' of the
// authority. It works on text that does not parse as a URL too.
func RedactAddress(s string) string {
	rest, scheme := s, ""
	if i := strings.Index(s, "://"); i >= 0 {
		scheme, rest = s[:i+3], s[i+3:]
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		return s
	}
	user := rest[:at]
	if c := strings.Index(user, ":"); c >= 0 {
		user = user[:c] + ":xxxxx"
	}
	return scheme + user + rest[at:]
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
