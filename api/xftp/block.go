package xftp

import (
	"encoding/binary"
	"fmt"
)

// BlockSize is the size of every padded XFTP block: handshakes, commands and
// responses. (protocol/xftp.md's 4096 is stale; clients use 16384.)
const BlockSize = 16384

// Pad frames msg as a block: its 2-byte big-endian length, msg, and '#'
// up to BlockSize.
func Pad(msg []byte) ([]byte, error) {
	if len(msg) > BlockSize-2 {
		return nil, fmt.Errorf("xftp: %d bytes do not fit a block", len(msg))
	}
	b := make([]byte, BlockSize)
	binary.BigEndian.PutUint16(b, uint16(len(msg)))
	n := copy(b[2:], msg)
	for i := 2 + n; i < len(b); i++ {
		b[i] = '#'
	}
	return b, nil
}

// Unpad returns the message a padded block holds. Like SimpleX's own
// parsers it reads the length and ignores what follows the message.
func Unpad(block []byte) ([]byte, error) {
	if len(block) < 2 {
		return nil, fmt.Errorf("%w: block shorter than its length", ErrMalformed)
	}
	n := int(binary.BigEndian.Uint16(block))
	if 2+n > len(block) {
		return nil, fmt.Errorf("%w: block length %d exceeds the block", ErrMalformed, n)
	}
	return block[2 : 2+n], nil
}
