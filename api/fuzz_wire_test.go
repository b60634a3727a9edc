package api

import (
	"encoding/json"
	"errors"
	"strings"
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

// FuzzCreateHeader decodes arbitrary Xftp-Create header values: decoding
// never panics, refuses what is too long or not canonical b64u, and what it
// accepts is exactly the JSON the header carried (the bytes the signature
// covers) and a CreateRequest decoded from it.
func FuzzCreateHeader(f *testing.F) {
	f.Add(enc.EncodeToString([]byte(`{"sender_key":"AAAA","size":65536,"digest":"AAAA","recipient_keys":["AAAA"]}`)))
	f.Add("")
	f.Add("e30")         // {}
	f.Add("e30=")        // padded
	f.Add("not base64!") // refused
	f.Add(strings.Repeat("A", MaxCreateHeader+1))
	f.Fuzz(func(t *testing.T, v string) {
		var req CreateRequest
		js, err := decodeCreateHeader(v, &req)
		if err != nil {
			if !errors.Is(err, server.ErrSyntax) {
				t.Fatalf("refusal %v is not SYNTAX", err)
			}
			return
		}
		if len(v) > MaxCreateHeader || enc.EncodeToString(js) != v {
			t.Fatalf("accepted %q (%d chars), carrying %q", v, len(v), js)
		}
		var again CreateRequest
		if err := json.Unmarshal(js, &again); err != nil {
			t.Fatalf("accepted JSON that does not decode: %v", err)
		}
	})
}
