package xftp

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"
)

// DefaultPort is the port of an address that names none.
const DefaultPort = "443"

// Address is an XFTP server address,
// xftp://<keyHash>[:<password>]@<host>[,<host>...][:<port>].
type Address struct {
	// KeyHash is SHA-256 of the server's CA certificate (DER).
	KeyHash [KeyHashSize]byte
	// Password is the upload password ("basic auth"), if any.
	Password string
	Hosts    []string
	Port     string
}

// ParseAddress parses an XFTP address. The key hash may be padded or not.
// Errors never repeat the password.
func ParseAddress(s string) (Address, error) {
	var a Address
	rest, ok := strings.CutPrefix(s, "xftp://")
	if !ok {
		return a, errors.New("xftp: an XFTP address starts with xftp://")
	}
	cred, hostport, ok := strings.Cut(rest, "@")
	if !ok {
		return a, errors.New("xftp: an XFTP address names its key hash before '@'")
	}
	kh, pass, hasPass := strings.Cut(cred, ":")
	// Canonical base64url, with SimpleX's one '=' of padding or none: the
	// decoder alone skips line breaks and stray bits in the last character.
	raw := strings.TrimSuffix(kh, "=")
	b, err := base64.RawURLEncoding.Strict().DecodeString(raw)
	if err != nil || len(b) != KeyHashSize || base64.RawURLEncoding.EncodeToString(b) != raw {
		return a, fmt.Errorf("xftp: the key hash %q is not %d bytes of base64url", kh, KeyHashSize)
	}
	copy(a.KeyHash[:], b)
	if hasPass {
		if pass == "" || !validBasicAuth([]byte(pass)) || len(pass) > 255 {
			return a, errors.New("xftp: the address's password has characters XFTP does not allow")
		}
		a.Password = pass
	}
	hosts, port := hostport, DefaultPort
	if i := strings.LastIndex(hostport, ":"); i >= 0 && !strings.HasSuffix(hostport, "]") {
		hosts, port = hostport[:i], hostport[i+1:]
	}
	for _, h := range strings.Split(hosts, ",") {
		// Brackets only around a whole host (an IPv6 address); a colon
		// only inside them.
		inner, bracketed := strings.CutPrefix(h, "[")
		if bracketed {
			inner, bracketed = strings.CutSuffix(inner, "]")
			if !bracketed {
				return a, fmt.Errorf("xftp: bad host %q in XFTP address", h)
			}
		} else if strings.Contains(h, ":") {
			return a, fmt.Errorf("xftp: bad host %q in XFTP address (an IPv6 address goes in brackets)", h)
		}
		h = inner
		if h == "" || strings.ContainsAny(h, "/?#@ []") {
			return a, fmt.Errorf("xftp: bad host %q in XFTP address", h)
		}
		a.Hosts = append(a.Hosts, h)
	}
	if port == "" || strings.Trim(port, "0123456789") != "" || len(port) > 5 {
		return a, fmt.Errorf("xftp: bad port %q in XFTP address", port)
	}
	a.Port = port
	return a, nil
}

// String formats the address with the padded key hash, as SimpleX does.
func (a Address) String() string {
	s := "xftp://" + base64.URLEncoding.EncodeToString(a.KeyHash[:])
	if a.Password != "" {
		s += ":" + a.Password
	}
	hosts := make([]string, len(a.Hosts))
	for i, h := range a.Hosts {
		if strings.Contains(h, ":") {
			h = "[" + h + "]"
		}
		hosts[i] = h
	}
	s += "@" + strings.Join(hosts, ",")
	if a.Port != "" && a.Port != DefaultPort {
		s += ":" + a.Port
	}
	return s
}

// HostPort is the first host and the port, for dialing.
func (a Address) HostPort() string { return net.JoinHostPort(a.Hosts[0], a.Port) }
