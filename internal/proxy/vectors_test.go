package proxy

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"github.com/xftp/xftp/identity"
	"github.com/xftp/xftp/internal/onion"
)

// TestProxyKeyResponseVector: the answer to GET /v1/proxy/key is, byte
// for byte, the one internal/onion's vectors (written from docs/PROXY.md
// by an independent implementation) give for each proxy.
func TestProxyKeyResponseVector(t *testing.T) {
	b, err := os.ReadFile("../onion/testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Proxies []struct {
			IdentitySeed string `json:"identity_seed"`
			KeyResponse  string `json:"key_response"`
		}
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Proxies) == 0 {
		t.Fatal("no proxies in the vectors")
	}
	for _, p := range v.Proxies {
		seed, err := hex.DecodeString(p.IdentitySeed)
		if err != nil {
			t.Fatal(err)
		}
		id := &identity.Identity{Key: ed25519.NewKeyFromSeed(seed)}
		k, err := onion.ProxyKey(id.Key)
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal(newProxyKeyResponse(id, k.PublicKey().Bytes()))
		if err != nil || string(got) != p.KeyResponse {
			t.Errorf("key response %s (%v), want %s", got, err, p.KeyResponse)
		}
	}
}
