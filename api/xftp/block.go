package xftp

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// BlockSize is the size of every padded XFTP block: handshakes, commands and
// responses. (protocol/xftp.md's 4096 is stale; clients use 16384.)
const BlockSize = 16384

// Pad frames msg as a block: its 2-byte big-endian length, msg, and '#'
// up to BlockSize.
func Pad(msg []byte) ([]byte, error) {
	b := make([]byte, BlockSize)
	if err := PadInto(b, msg); err != nil {
		return nil, err
	}
	return b, nil
}

// padding is a block of '#', copied after messages.
var padding = bytes.Repeat([]byte{'#'}, BlockSize)

// PadInto frames msg as Pad does into block, which must be BlockSize
// bytes long (a buffer a server reuses for every answer).
func PadInto(block, msg []byte) error {
	if len(block) != BlockSize {
		return fmt.Errorf("xftp: a block buffer of %d bytes", len(block))
	}
	if len(msg) > BlockSize-2 {
		return fmt.Errorf("xftp: %d bytes do not fit a block", len(msg))
	}
	binary.BigEndian.PutUint16(block, uint16(len(msg)))
	n := copy(block[2:], msg)
	copy(block[2+n:], padding)
	return nil
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
