package simplex

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Server is an XFTP server address as a description names it:
// xftp://<keyHash>@<host>[,<host>…][:<port>], where keyHash is the
// base64url SHA-256 of the server's identity (CA) certificate.
type Server struct {
	KeyHash [32]byte
	Hosts   []string // one or more; the first is the one clients dial
	Port    int      // 0 when absent (XFTP's default, 443)
}

// String returns the address as SimpleX writes it: padded base64url key
// hash, hosts joined by commas, the port only when one was given.
func (s Server) String() string {
	var b strings.Builder
	b.WriteString("xftp://")
	b.WriteString(base64.URLEncoding.EncodeToString(s.KeyHash[:]))
	b.WriteByte('@')
	b.WriteString(strings.Join(s.Hosts, ","))
	if s.Port != 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(s.Port))
	}
	return b.String()
}

// HostPort returns the first host and the port (443 when absent), ready
// for net.Dial.
func (s Server) HostPort() string {
	port := s.Port
	if port == 0 {
		port = 443
	}
	h := s.Hosts[0]
	if strings.Contains(h, ":") && !strings.HasPrefix(h, "[") {
		h = "[" + h + "]"
	}
	return h + ":" + strconv.Itoa(port)
}

// maxServerLen bounds a server address before it is parsed.
const maxServerLen = 1024

// ParseServer parses an XFTP server address as it appears in a file
// description. An upload password (xftp://hash:pass@…) is refused: it
// never belongs in a description that is handed to others.
func ParseServer(s string) (Server, error) {
	var srv Server
	if len(s) > maxServerLen {
		return srv, fmt.Errorf("server address is %d bytes, at most %d allowed", len(s), maxServerLen)
	}
	rest, ok := strings.CutPrefix(s, "xftp://")
	if !ok {
		return srv, fmt.Errorf("server address %q does not start with xftp://", s)
	}
	kh, hosts, ok := strings.Cut(rest, "@")
	if !ok {
		return srv, fmt.Errorf("server address %q has no '@'", s)
	}
	if strings.Contains(kh, ":") {
		return srv, fmt.Errorf("server address %q carries an upload password, which a file description must not", s)
	}
	h, err := decodeB64(kh)
	if err != nil || len(h) != 32 {
		return srv, fmt.Errorf("server address %q: the key hash is not 32 bytes of base64url", s)
	}
	copy(srv.KeyHash[:], h)
	// The port follows the last ':' outside brackets.
	hostPart := hosts
	if i := strings.LastIndexByte(hosts, ':'); i >= 0 && !strings.Contains(hosts[i:], "]") {
		p, err := strconv.Atoi(hosts[i+1:])
		if err != nil || p < 1 || p > 65535 || hosts[i+1] == '+' || hosts[i+1] == '-' {
			return srv, fmt.Errorf("server address %q: bad port %q", s, hosts[i+1:])
		}
		srv.Port = p
		hostPart = hosts[:i]
	}
	for _, host := range strings.Split(hostPart, ",") {
		if err := checkHost(host); err != nil {
			return srv, fmt.Errorf("server address %q: %v", s, err)
		}
		srv.Hosts = append(srv.Hosts, host)
	}
	return srv, nil
}

func checkHost(h string) error {
	if h == "" {
		return fmt.Errorf("empty host")
	}
	if len(h) > 255 {
		return fmt.Errorf("host is longer than 255 bytes")
	}
	if strings.HasPrefix(h, "[") {
		a, err := netip.ParseAddr(strings.TrimSuffix(h[1:], "]"))
		if err != nil || !strings.HasSuffix(h, "]") || !a.Is6() {
			return fmt.Errorf("bad IPv6 host %q", h)
		}
		return nil
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(":#,;/@[]?'\"\\", c) >= 0 {
			return fmt.Errorf("bad character %q in host", c)
		}
	}
	return nil
}

// compareServers orders servers as SimpleX's Haskell code does (its
// derived Ord on ProtocolServer): by hosts (IPv4 < IPv6 < onion < domain
// name, each by value), then port as text, then key hash.
func compareServers(a, b Server) int {
	for i := 0; i < len(a.Hosts) && i < len(b.Hosts); i++ {
		if c := compareHosts(a.Hosts[i], b.Hosts[i]); c != 0 {
			return c
		}
	}
	if c := len(a.Hosts) - len(b.Hosts); c != 0 {
		return c
	}
	if c := strings.Compare(portText(a.Port), portText(b.Port)); c != 0 {
		return c
	}
	return bytes.Compare(a.KeyHash[:], b.KeyHash[:])
}

func portText(p int) string {
	if p == 0 {
		return ""
	}
	return strconv.Itoa(p)
}

func hostKey(h string) (int, []byte) {
	if a, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
		if a.Is4() {
			b := a.As4()
			return 0, b[:]
		}
		b := a.As16()
		return 1, b[:]
	}
	if strings.HasSuffix(h, ".onion") {
		return 2, []byte(h)
	}
	return 3, []byte(h)
}

func compareHosts(a, b string) int {
	ra, ka := hostKey(a)
	rb, kb := hostKey(b)
	if ra != rb {
		return ra - rb
	}
	if c := bytes.Compare(ka, kb); c != 0 {
		return c
	}
	// The same IPv6 address written two ways ("[::1]", "[0::1]") is two
	// servers here: grouping must never merge replicas whose addresses differ.
	return strings.Compare(a, b)
}
