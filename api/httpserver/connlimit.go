package httpserver

import (
	"net"
	"sync"
)

// ConnLimits bound the connections a listener accepts (LimitConns).
// Connections over a limit are closed at once.
type ConnLimits struct {
	// PerSource caps one source's connections (SourceOf: an IPv4
	// address or an IPv6 /64); 0: no cap.
	PerSource int
	// PerNetwork caps one IPv6 /48's connections, over all its /64
	// sources (0: 4 × PerSource). A /48 is what one site usually holds:
	// without this cap it would count as 65,536 sources.
	PerNetwork int
	// Total caps all connections together; 0: no cap. Past 3/4 of it
	// only sources holding fewer than ReserveConns connections may open
	// more, so that a few sources cannot take all of it.
	Total int
	// Cooldown, if set, refuses connections from sources cooling down
	// after a flood (ServerOptions.Cooldown).
	Cooldown *Cooldown
}

// ReserveConns is what every source may still open once most of
// ConnLimits.Total is taken.
const ReserveConns = 4

// LimitListener caps concurrent connections per source address: extra
// connections are closed at once.
func LimitListener(ln net.Listener, perSource int) net.Listener {
	return LimitConns(ln, ConnLimits{PerSource: perSource})
}

// LimitConns applies l to the connections ln accepts.
func LimitConns(ln net.Listener, l ConnLimits) net.Listener {
	if l.PerSource <= 0 && l.Total <= 0 && l.Cooldown == nil {
		return ln
	}
	if l.PerNetwork <= 0 && l.PerSource > 0 {
		l.PerNetwork = 4 * l.PerSource
	}
	return &limitListener{Listener: ln, l: l, conns: map[string]int{}, nets: map[string]int{}}
}

type limitListener struct {
	net.Listener
	l     ConnLimits
	mu    sync.Mutex
	conns map[string]int // per source
	nets  map[string]int // per IPv6 /48
	total int
}

// networkOf is the IPv6 /48 of a remote address, or "" for IPv4.
func networkOf(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.To4() != nil {
		return ""
	}
	return ip.Mask(net.CIDRMask(48, 128)).String() + "/48"
}

// admit reports whether a connection from src (in network nw) fits, and
// counts it if so.
func (ll *limitListener) admit(src, nw string) bool {
	ll.mu.Lock()
	defer ll.mu.Unlock()
	l, held := ll.l, ll.conns[src]
	switch {
	case l.PerSource > 0 && held >= l.PerSource,
		nw != "" && l.PerNetwork > 0 && ll.nets[nw] >= l.PerNetwork,
		l.Total > 0 && (ll.total >= l.Total || ll.total >= l.Total*3/4 && held >= ReserveConns):
		return false
	}
	ll.conns[src]++
	if nw != "" {
		ll.nets[nw]++
	}
	ll.total++
	return true
}

func (ll *limitListener) release(src, nw string) {
	ll.mu.Lock()
	defer ll.mu.Unlock()
	if ll.conns[src]--; ll.conns[src] <= 0 {
		delete(ll.conns, src)
	}
	if nw != "" {
		if ll.nets[nw]--; ll.nets[nw] <= 0 {
			delete(ll.nets, nw)
		}
	}
	ll.total--
}

func (ll *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := ll.Listener.Accept()
		if err != nil {
			return nil, err
		}
		remote := c.RemoteAddr().String()
		src, nw := SourceOf(remote), networkOf(remote)
		if ll.l.Cooldown != nil && ll.l.Cooldown.Cooling(remote) || !ll.admit(src, nw) {
			c.Close()
			continue
		}
		return &limitedConn{Conn: c, release: func() { ll.release(src, nw) }}, nil
	}
}

type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}
