package xftp

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("xftp: malformed encoding")

// decoder reads SimpleX's binary encodings from a byte slice. The first
// error sticks; later reads return zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrMalformed, what)
	}
	d.b = nil
}

func (d *decoder) take(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.b) < n {
		d.fail(what)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte(what string) byte {
	v := d.take(1, what)
	if v == nil {
		return 0
	}
	return v[0]
}

func (d *decoder) word16(what string) uint16 {
	v := d.take(2, what)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint16(v)
}

func (d *decoder) word32(what string) uint32 {
	v := d.take(4, what)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint32(v)
}

// short reads a ByteString: a 1-byte length and the bytes.
func (d *decoder) short(what string) []byte { return d.take(int(d.byte(what)), what) }

// large reads a Large: a 2-byte big-endian length and the bytes.
func (d *decoder) large(what string) []byte { return d.take(int(d.word16(what)), what) }

// maybe reads the '0' or '1' that starts a Maybe; it reports '1'.
func (d *decoder) maybe(what string) bool {
	switch d.byte(what) {
	case '0':
		return false
	case '1':
		return true
	}
	d.fail(what)
	return false
}

// space reads the ' ' that separates a tag from its fields.
func (d *decoder) space(what string) {
	if d.byte(what) != ' ' {
		d.fail(what)
	}
}

// count reads a NonEmpty list's 1-byte count (1..255).
func (d *decoder) count(what string) int {
	n := int(d.byte(what))
	if n == 0 {
		d.fail(what + ": empty list")
	}
	return n
}

// end fails unless everything was read.
func (d *decoder) end(what string) {
	if d.err == nil && len(d.b) != 0 {
		d.fail(what + ": trailing bytes")
	}
}

// Appenders for the same encodings. Lengths are the caller's to check
// (encode functions return errors for values that do not fit).

func appendShort(b, v []byte) []byte { return append(append(b, byte(len(v))), v...) }

func appendLarge(b, v []byte) []byte {
	return append(binary.BigEndian.AppendUint16(b, uint16(len(v))), v...)
}

func fitsShort(vs ...[]byte) bool {
	for _, v := range vs {
		if len(v) > 255 {
			return false
		}
	}
	return true
}
