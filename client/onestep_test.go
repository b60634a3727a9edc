package client

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
)

// A server answering KEY_IN_USE (the sender key names a chunk asked for
// differently, e.g. by an earlier run that got further) makes the client
// use a new sender key for that chunk, once, and carry on.
func TestUploadRenewsSenderKeyInUse(t *testing.T) {
	relays := startRelays(t, 1)
	var (
		mu       sync.Mutex
		refused  = map[string]bool{} // by chunk digest: the first request of each chunk
		requests atomic.Int32
	)
	relays[0].Wrap = func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.Method != http.MethodPut || req.URL.Path != "/v1/chunks" {
				next.ServeHTTP(w, req)
				return
			}
			requests.Add(1)
			var n [4]byte
			io.ReadFull(req.Body, n[:])
			js := make([]byte, binary.BigEndian.Uint32(n[:]))
			io.ReadFull(req.Body, js)
			var cr struct{ Digest string }
			json.Unmarshal(js, &cr)
			mu.Lock()
			first := !refused[cr.Digest]
			refused[cr.Digest] = true
			mu.Unlock()
			if first {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusConflict)
				w.Write([]byte(`{"error":"KEY_IN_USE"}`))
				return
			}
			req.Body = io.NopCloser(io.MultiReader(bytes.NewReader(n[:]), bytes.NewReader(js), req.Body))
			next.ServeHTTP(w, req)
		})
	}
	dir := t.TempDir()
	in := writeRandomFile(t, dir, 5<<20, 31)
	up, err := UploadFile(context.Background(), UploadFileRequest{Path: in, Servers: servers(relays...), Recipients: 1}, Options{})
	if err != nil {
		t.Fatalf("upload with sender keys in use: %v", err)
	}
	if got, want := int(requests.Load()), 2*up.Chunks; got != want || len(refused) != up.Chunks {
		t.Fatalf("%d one-request uploads for %d chunks (%d refused), want %d", got, up.Chunks, len(refused), want)
	}
	if err := roundTrip(t, up.Recipients[0], dir, in); err != nil {
		t.Fatal(err)
	}
}
