package e2e

import (
	"io"
	"net"
	"sync"
	"testing"
)

// balancer is a TCP load balancer on loopback that sends each connection
// to the first backend, in order, that accepts it (fail-over), as an
// operator's would in front of several xftpd replicas.
type balancer struct {
	ln       net.Listener
	backends []string
	wg       sync.WaitGroup
}

func startBalancer(t *testing.T, backends ...string) *balancer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &balancer{ln: ln, backends: backends}
	b.wg.Add(1)
	go b.serve()
	t.Cleanup(func() { ln.Close(); b.wg.Wait() })
	return b
}

func (b *balancer) addr() string { return b.ln.Addr().String() }

func (b *balancer) serve() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		go b.relay(c)
	}
}

func (b *balancer) relay(c net.Conn) {
	defer c.Close()
	for _, addr := range b.backends {
		be, err := net.Dial("tcp", addr)
		if err != nil {
			continue
		}
		defer be.Close()
		done := make(chan struct{}, 2)
		go func() { io.Copy(be, c); done <- struct{}{} }()
		go func() { io.Copy(c, be); done <- struct{}{} }()
		<-done
		return
	}
}
