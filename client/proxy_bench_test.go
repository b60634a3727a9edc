package client

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/xftp/xftp/internal/proxy"
)

// BenchmarkProxyDownload measures a 100 MiB download on loopback direct
// and through 1 and 2 proxies, in one run:
//
//	go test ./client/ -run XXX -bench ProxyDownload -benchtime 3x
func BenchmarkProxyDownload(b *testing.B) {
	d := startDest(b)
	p1 := startProxyRelay(b, "127.0.0.71", proxy.Options{})
	p2 := startProxyRelay(b, "127.0.0.72", proxy.Options{})
	const size = 100 << 20
	desc, _ := uploadTo(b, d.Relay, size)
	for _, route := range [][]string{nil, proxyAddrs(p1), proxyAddrs(p1, p2)} {
		b.Run(fmt.Sprintf("proxies=%d", len(route)), func(b *testing.B) {
			b.SetBytes(size)
			o := proxiedOptions(route, 0)
			out := filepath.Join(b.TempDir(), "out")
			for b.Loop() {
				if _, err := DownloadFile(context.Background(), DownloadFileRequest{Description: desc, Output: out, Keep: true}, o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
