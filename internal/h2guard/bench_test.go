package h2guard

import (
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
