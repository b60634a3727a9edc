package api

import (
	"crypto/ed25519"
	"crypto/rand"
	"net/http"
	"testing"
	"time"

	"github.com/xftp/xftp/identity"
)

// The per-request signature work: what a client pays to sign and what the
// server pays to rebuild the signed message and verify it.

func benchRequest(b *testing.B) (ed25519.PrivateKey, identity.Fingerprint, string) {
	b.Helper()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	id := make([]byte, 24)
	rand.Read(id)
	return key, identity.FingerprintOf(pub), "/v1/chunks/" + enc.EncodeToString(id) + "/download"
}

func BenchmarkSign(b *testing.B) {
	key, fp, path := benchRequest(b)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		_ = Sign(key, fp, http.MethodPost, path, UnsignedBody, now).String()
	}
}

func BenchmarkVerify(b *testing.B) {
	key, fp, path := benchRequest(b)
	pub := key.Public().(ed25519.PublicKey)
	hv := Sign(key, fp, http.MethodPost, path, UnsignedBody, time.Now()).String()
	b.ReportAllocs()
	for b.Loop() {
		h, err := ParseAuthHeader(hv)
		if err != nil {
			b.Fatal(err)
		}
		msg := SignedMessage(fp, http.MethodPost, path, h.Timestamp, h.Nonce, UnsignedBody)
		if !ed25519.Verify(pub, msg, h.Signature) {
			b.Fatal("signature does not verify")
		}
	}
}
