package httpserver

import (
	"bytes"
	"errors"
	"net/http"
	"testing"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/server"
)

// FuzzCreatePrefix reads arbitrary bodies of PUT /v1/chunks: reading never
// panics, refuses a length over api.MaxJSONBody or a body shorter than its
// length, and what it accepts is exactly the framed bytes, leaving the rest
// of the body (the chunk) unread.
func FuzzCreatePrefix(f *testing.F) {
	f.Add(api.AppendCreatePrefix(nil, []byte(`{"sender_key":"AAAA","size":65536,"digest":"AAAA","recipient_keys":["AAAA"]}`)))
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0})
	f.Add(api.AppendCreatePrefix(nil, nil))
	f.Add(append(api.AppendCreatePrefix(nil, []byte("{}")), "chunk bytes"...))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, '{'})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		js, err := readCreatePrefix(r)
		if err != nil {
			var mbe *http.MaxBytesError
			if !errors.Is(err, server.ErrSyntax) && !errors.As(err, &mbe) {
				t.Fatalf("refusal %v is neither SYNTAX nor TOO_LARGE", err)
			}
			return
		}
		if len(js) > api.MaxJSONBody || !bytes.Equal(api.AppendCreatePrefix(nil, js), b[:len(b)-r.Len()]) {
			t.Fatalf("accepted %d bytes of JSON from %d bytes, %d left", len(js), len(b), r.Len())
		}
	})
}
