package xftp

import (
	"bytes"
	"fmt"
)

// Response tags.
const (
	SIDS = "SIDS" // FNEW's answer: sender and recipient IDs
	RIDS = "RIDS" // FADD's answer: recipient IDs
	FILE = "FILE" // FGET's answer: the server's DH key and nonce; the body follows
	OK   = "OK"
	PONG = "PONG"
	ERR  = "ERR"
)

// Response is a server's answer. Which fields are set depends on Tag.
type Response struct {
	Tag          string
	SenderID     []byte   // SIDS
	RecipientIDs [][]byte // SIDS, RIDS
	DHKey        []byte   // FILE: the server's ephemeral X25519 key (32 bytes)
	Nonce        [24]byte // FILE
	Err          *Error   // ERR
}

// ErrResponse is the ERR response for e.
func ErrResponse(e *Error) *Response { return &Response{Tag: ERR, Err: e} }

// Encode returns the response's wire bytes at protocol version v: below
// version 3 a BLOCKED error is sent as AUTH, which older clients know.
func (r *Response) Encode(v uint16) ([]byte, error) {
	b := []byte(r.Tag)
	switch r.Tag {
	case SIDS:
		if len(r.SenderID) > 255 {
			return nil, fmt.Errorf("xftp: sender ID too long")
		}
		b = appendShort(append(b, ' '), r.SenderID)
		return appendIDs(b, r.RecipientIDs)
	case RIDS:
		return appendIDs(append(b, ' '), r.RecipientIDs)
	case FILE:
		if len(r.DHKey) != 32 {
			return nil, fmt.Errorf("xftp: FILE needs a 32-byte X25519 key")
		}
		b = appendShort(append(b, ' '), EncodeX25519(r.DHKey))
		return append(b, r.Nonce[:]...), nil
	case OK, PONG:
		return b, nil
	case ERR:
		e := r.Err
		if e == nil {
			e = ErrInternal
		}
		if e.Code == CodeBlocked && v < VersionBlockedFiles {
			e = ErrAuth
		}
		return append(append(b, ' '), e.Encode()...), nil
	}
	return nil, fmt.Errorf("xftp: unknown response %q", r.Tag)
}

func appendIDs(b []byte, ids [][]byte) ([]byte, error) {
	if len(ids) == 0 || len(ids) > MaxKeys || !fitsShort(ids...) {
		return nil, fmt.Errorf("xftp: %d recipient IDs; 1 to %d of at most 255 bytes", len(ids), MaxKeys)
	}
	b = append(b, byte(len(ids)))
	for _, id := range ids {
		b = appendShort(b, id)
	}
	return b, nil
}

// ParseResponse parses a response's bytes.
func ParseResponse(b []byte) (*Response, error) {
	tag, _, _ := bytes.Cut(b, []byte{' '})
	r := &Response{Tag: string(tag)}
	d := &decoder{b: b[len(tag):]}
	switch r.Tag {
	case SIDS:
		d.space(SIDS)
		r.SenderID = d.short("sender ID")
		r.RecipientIDs = d.ids()
	case RIDS:
		d.space(RIDS)
		r.RecipientIDs = d.ids()
	case FILE:
		d.space(FILE)
		k, err := ParseX25519(d.short("DH key"))
		if err != nil && d.err == nil {
			d.fail("DH key")
		}
		r.DHKey = k
		copy(r.Nonce[:], d.take(24, "nonce"))
	case OK, PONG:
	case ERR:
		d.space(ERR)
		e, err := ParseError(d.b)
		if err != nil {
			return nil, err
		}
		r.Err, d.b = e, nil
	default:
		return nil, fmt.Errorf("%w: unknown response %q", ErrMalformed, tag)
	}
	d.end(r.Tag)
	if d.err != nil {
		return nil, d.err
	}
	return r, nil
}

func (d *decoder) ids() [][]byte {
	n := d.count("recipient IDs")
	ids := make([][]byte, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		ids = append(ids, d.short("recipient ID"))
	}
	return ids
}
