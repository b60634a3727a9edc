package httpclient

import (
	"testing"
	"time"

	"github.com/xftp/xftp/identity"
)

// TestRouteClockOffsetsArePerDestination: an offset learnt from one
// destination's CLOCK answer (an unsigned Date relayed by the last proxy)
// does not move the clock used for another destination (issue 20, item
// 15).
func TestRouteClockOffsetsArePerDestination(t *testing.T) {
	rt := NewRoute(nil, nil, nil)
	var a, b identity.Fingerprint
	a[0], b[0] = 1, 2
	rt.setSkew(a, time.Hour)
	if rt.skew(a) != time.Hour || rt.skew(b) != 0 {
		t.Fatalf("offsets: %v for the destination that sent it, %v for another", rt.skew(a), rt.skew(b))
	}
}
