package blocklist_test

import (
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/xftp/xftp/blocklist"
	"github.com/xftp/xftp/identity"
)

// A client checks a 451 answer's record against the fingerprint it pinned
// and the ID it asked for; anything else is the server's error, not a
// block.
func ExampleVerify() {
	server := &identity.Identity{Key: ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))}
	chunkID := []byte("recipient-id")
	signed, err := blocklist.Sign(server, blocklist.Record{Server: server.Fingerprint(), ChunkID: chunkID,
		Reason: blocklist.ReasonSpam, BlockedAt: time.Unix(1750000000, 0)})
	if err != nil {
		panic(err)
	}
	wire := signed.Marshal() // the record field of the 451 answer

	rec, err := blocklist.Verify(wire, server.Fingerprint(), chunkID)
	fmt.Println(rec.Record.Reason, err)
	_, err = blocklist.Verify(wire, server.Fingerprint(), []byte("another-id"))
	fmt.Println(err != nil)
	// Output:
	// spam <nil>
	// true
}
