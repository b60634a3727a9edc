package api

import (
	"encoding/base64"
	"fmt"
)

// B64 is a byte string that marshals as unpadded base64url.
type B64 []byte

var enc = base64.RawURLEncoding.Strict()

// MarshalText implements encoding.TextMarshaler.
func (b B64) MarshalText() ([]byte, error) {
	out := make([]byte, enc.EncodedLen(len(b)))
	enc.Encode(out, b)
	return out, nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (b *B64) UnmarshalText(t []byte) error {
	out := make([]byte, enc.DecodedLen(len(t)))
	n, err := enc.Decode(out, t)
	if err != nil {
		return fmt.Errorf("not unpadded base64url: %w", err)
	}
	*b = out[:n]
	return nil
}

func (b B64) String() string { return enc.EncodeToString(b) }
