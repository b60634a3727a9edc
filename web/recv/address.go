package recv

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/xftp/xftp/identity"
)

// server is a relay address as the page needs it. It follows
// api.ParseAddress (a test keeps the two in step): recv cannot import api.
type server struct {
	fingerprint identity.Fingerprint
	host        string // host:port
}

// origin is the HTTPS origin of the relay, the base of every request URL.
func (s server) origin() string { return "https://" + s.host }

func parseServer(s string) (server, error) {
	var a server
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Scheme != "xftp" || u.User == nil {
		return a, fmt.Errorf("server address %q is not xftp://FINGERPRINT@HOST:PORT", redact(s))
	}
	if a.fingerprint, err = identity.ParseFingerprint(u.User.Username()); err != nil {
		return a, fmt.Errorf("server address %q: %w", redact(s), err)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || host == "" || port == "" {
		return a, fmt.Errorf("server address %q: want host:port after '@'", redact(s))
	}
	if u.RawQuery != "" && u.RawQuery != "tls=web" {
		return a, fmt.Errorf("server address %q: unknown option %q", redact(s), u.RawQuery)
	}
	if (u.Path != "" && u.Path != "/") || u.Fragment != "" {
		return a, fmt.Errorf("server address %q: unexpected path or fragment", redact(s))
	}
	a.host = u.Host
	return a, nil
}

// redact drops an upload password from an address for messages.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = url.User(u.User.Username())
	return u.String()
}
