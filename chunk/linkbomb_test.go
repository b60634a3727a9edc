package chunk

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"strings"
	"testing"
)

// TestLinkExpansionIsBounded: a few-KB link that decompresses into a
// hundred thousand identical replicas (each costing a key derivation) is
// refused before it is decoded (issue 20, item 12: one took 6.7 s of CPU).
func TestLinkExpansionIsBounded(t *testing.T) {
	const server = "xftp://AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA@h:1"
	p := []byte{1}
	p = append(p, make([]byte, KeySize)...)
	p = binary.AppendUvarint(p, 1)
	p = binary.AppendUvarint(p, uint64(len(server)))
	p = append(p, server...)
	p = binary.AppendUvarint(p, 1) // one chunk
	p = binary.AppendUvarint(p, Size64K)
	p = append(p, make([]byte, 32)...)
	const replicas = 100000
	p = binary.AppendUvarint(p, replicas)
	for range replicas {
		p = append(p, 0, 24)
		p = append(p, make([]byte, 24+32)...)
	}
	var z bytes.Buffer
	w, _ := flate.NewWriter(&z, flate.BestCompression)
	w.Write(p)
	w.Close()
	link := LinkPrefix + b64.EncodeToString(z.Bytes())
	if len(link) > 64<<10 {
		t.Fatalf("the test link is %d bytes", len(link))
	}
	_, err := Parse([]byte(link))
	if err == nil || !strings.Contains(err.Error(), "decompresses to more than") {
		t.Fatalf("a %d-byte link expanding to %d bytes: %v", len(link), len(p), err)
	}
}
