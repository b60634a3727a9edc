package h2guard

import (
	"bytes"
	"context"
	"testing"

	"github.com/xftp/xftp/internal/h2attack"
)

// BenchmarkFlood floods a TLS server with 50,000 frames per connection
// (one connection per op), without and with the guard: ns/op is the time
// the flood holds the server's connection (until the server answers the
// final PING without the guard, until it closes with it).
func BenchmarkFlood(b *testing.B) {
	for _, k := range []h2attack.Kind{h2attack.Settings, h2attack.WindowUpdateConn, h2attack.EmptyData, h2attack.ResetWindowZero} {
		for _, guard := range []bool{false, true} {
			name := map[bool]string{false: "unguarded", true: "guarded"}[guard]
			b.Run(string(k)+"/"+name, func(b *testing.B) {
				ts := startServerGuarded(b, true, guard)
				o := h2attack.Options{}
				if k == h2attack.EmptyData {
					o.Path = "/blob"
				}
				for b.Loop() {
					h2attack.FloodWith(context.Background(), ts.dial(b), k, 50_000, o)
				}
			})
		}
	}
}

// BenchmarkTransfer downloads and uploads 4 MiB over TLS HTTP/2 with Go's
// client, without and with the guard: what reading the frame headers
// costs a correct transfer.
func BenchmarkTransfer(b *testing.B) {
	body := bytes.Repeat([]byte{7}, blobSize)
	for _, guard := range []bool{false, true} {
		name := map[bool]string{false: "unguarded", true: "guarded"}[guard]
		b.Run(name, func(b *testing.B) {
			ts := startServerGuarded(b, true, guard)
			c, base := ts.client()
			b.SetBytes(2 * blobSize)
			for b.Loop() {
				for _, download := range []bool{true, false} {
					if err := transfer(context.Background(), c, base, body, download, false); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
