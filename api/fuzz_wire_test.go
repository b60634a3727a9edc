package api

import (
	"encoding/json"
	"testing"
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
		for _, mk := range []func() any{
			func() any { return &CreateRequest{} },
			func() any { return &RecipientsRequest{} },
			func() any { return &DownloadRequest{} },
		} {
			v := mk()
			if json.Unmarshal(b, v) != nil {
				continue
			}
			again, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			// A fresh value: decoding into v again would keep what
			// the re-encoding lost.
			w := mk()
			if err := json.Unmarshal(again, w); err != nil {
				t.Fatalf("re-decoding %s: %v", again, err)
			}
			third, _ := json.Marshal(w)
			if string(third) != string(again) {
				t.Fatalf("not stable: %s vs %s", again, third)
			}
		}
	})
}
