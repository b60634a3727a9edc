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
