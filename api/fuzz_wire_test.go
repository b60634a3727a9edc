package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/xftp/xftp/server"
)

// FuzzWireTypes decodes arbitrary JSON into every request type the server
// accepts: decoding never panics, and what decodes re-encodes to JSON that
// decodes to the same value.
func FuzzWireTypes(f *testing.F) {
	f.Add([]byte(`{"sender_key":"AAAA","size":65536,"digest":"AAAA","recipient_keys":["AAAA"]}`))
	f.Add([]byte(`{"recipient_keys":[]}`))
	f.Add([]byte(`{"key":"` + enc.EncodeToString(make([]byte, 32)) + `"}`))
	f.Add([]byte(`{"sender_key":"A==","size":-1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, v := range []any{&CreateRequest{}, &RecipientsRequest{}, &DownloadRequest{}} {
			if json.Unmarshal(b, v) != nil {
				continue
			}
			again, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(again, v); err != nil {
				t.Fatalf("re-decoding %s: %v", again, err)
			}
			third, _ := json.Marshal(v)
			if string(third) != string(again) {
				t.Fatalf("not stable: %s vs %s", again, third)
			}
		}
	})
}

// FuzzCreatePrefix reads arbitrary bodies of PUT /v1/chunks: reading never
// panics, refuses a length over MaxJSONBody or a body shorter than its
// length, and what it accepts is exactly the framed bytes, leaving the rest
// of the body (the chunk) unread.
func FuzzCreatePrefix(f *testing.F) {
	f.Add(appendCreatePrefix(nil, []byte(`{"sender_key":"AAAA","size":65536,"digest":"AAAA","recipient_keys":["AAAA"]}`)))
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0})
	f.Add(appendCreatePrefix(nil, nil))
	f.Add(append(appendCreatePrefix(nil, []byte("{}")), "chunk bytes"...))
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
		if len(js) > MaxJSONBody || !bytes.Equal(appendCreatePrefix(nil, js), b[:len(b)-r.Len()]) {
			t.Fatalf("accepted %d bytes of JSON from %d bytes, %d left", len(js), len(b), r.Len())
		}
	})
}
