package onion

import (
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
)

// MaxRequestBody caps the body of a request for the destination: a
// download's or acknowledgement's JSON body is far smaller.
const MaxRequestBody = 1 << 10

// maxRequest is the largest marshalled Request.
const maxRequest = (2 + maxPath + 2 + maxAuth + 4 + MaxRequestBody + requestPad - 1) / requestPad * requestPad

// Field limits of a Request.
const (
	maxPath = 200
	maxAuth = 1024
)

// requestPad is the granule requests are padded to, so that a download and
// an acknowledgement (or two IDs of different lengths) look alike.
const requestPad = 512

// requestPath is the only kind of path a proxy forwards: a recipient's
// download, acknowledgement or abuse report.
var requestPath = regexp.MustCompile(`^/v1/chunks/[A-Za-z0-9_-]{1,86}/(download|ack|report)$`)

// ErrRequest means a request for the destination is malformed or not one
// a proxy forwards.
var ErrRequest = errors.New("onion: malformed request")

// Request is the destination's request, built and signed by the client
// exactly as it would send it directly (the method is always POST).
type Request struct {
	Path string // /v1/chunks/{id}/download, /ack or /report
	Auth string // the Xftp-Auth header
	Body []byte
}

// Marshal encodes the request, zero-padded to a multiple of 512 bytes:
//
//	uint16 len || path || uint16 len || auth || uint32 len || body || zeros
func (r *Request) Marshal() []byte {
	n := 2 + len(r.Path) + 2 + len(r.Auth) + 4 + len(r.Body)
	b := make([]byte, 0, (n+requestPad-1)/requestPad*requestPad)
	b = binary.BigEndian.AppendUint16(b, uint16(len(r.Path)))
	b = append(b, r.Path...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(r.Auth)))
	b = append(b, r.Auth...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(r.Body)))
	b = append(b, r.Body...)
	return b[:cap(b)] // the rest is zeros
}

// ParseRequest parses and checks a request: a download or acknowledgement
// path, a bounded body, and canonical zero padding.
func ParseRequest(b []byte) (*Request, error) {
	if len(b) == 0 || len(b)%requestPad != 0 {
		return nil, fmt.Errorf("%w: padding", ErrRequest)
	}
	var r Request
	rest := b
	field := func(size int, max int) ([]byte, bool) {
		if len(rest) < size {
			return nil, false
		}
		var n int
		if size == 2 {
			n = int(binary.BigEndian.Uint16(rest))
		} else {
			n = int(binary.BigEndian.Uint32(rest))
		}
		rest = rest[size:]
		if n > max || n > len(rest) {
			return nil, false
		}
		v := rest[:n]
		rest = rest[n:]
		return v, true
	}
	p, ok1 := field(2, maxPath)
	a, ok2 := field(2, maxAuth)
	body, ok3 := field(4, MaxRequestBody)
	if !ok1 || !ok2 || !ok3 {
		return nil, fmt.Errorf("%w: lengths", ErrRequest)
	}
	for _, c := range rest {
		if c != 0 {
			return nil, fmt.Errorf("%w: padding", ErrRequest)
		}
	}
	if len(rest) >= requestPad {
		return nil, fmt.Errorf("%w: padding", ErrRequest)
	}
	r.Path, r.Auth, r.Body = string(p), string(a), body
	if !requestPath.MatchString(r.Path) {
		return nil, fmt.Errorf("%w: proxies forward only downloads, acknowledgements and reports", ErrRequest)
	}
	return &r, nil
}
