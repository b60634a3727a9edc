package recv

import (
	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/identity"
)

// server is a relay address as the page needs it.
type server struct {
	fingerprint identity.Fingerprint
	host        string // host:port
}

// origin is the HTTPS origin of the relay, the base of every request URL.
func (s server) origin() string { return "https://" + s.host }

// parseServer parses a relay address as every client does; its errors
// quote the address without its password.
func parseServer(s string) (server, error) {
	a, err := api.ParseAddress(s)
	if err != nil {
		return server{}, err
	}
	return server{fingerprint: a.Fingerprint, host: a.Host}, nil
}

// redact drops an upload password from an address for messages.
func redact(s string) string { return api.RedactAddress(s) }
