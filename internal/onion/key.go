package onion

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
)

const (
	proxyKeyInfo    = "xftp proxy key v1"
	proxyKeyContext = "xftp proxy key v1\x00"
)

// ProxyKey derives a proxy's X25519 key from its Ed25519 identity key.
// It is deterministic, so replicas sharing one identity share the proxy
// key, and it needs no storage of its own.
func ProxyKey(identity ed25519.PrivateKey) (*ecdh.PrivateKey, error) {
	k, err := hkdf.Key(sha256.New, identity.Seed(), nil, proxyKeyInfo, 32)
	if err != nil {
		return nil, err
	}
	return ecdh.X25519().NewPrivateKey(k)
}

// ProxyKeyMessage is what the identity key signs to vouch for a proxy key.
// Its context differs from every other message the identity key signs.
func ProxyKeyMessage(proxyPub []byte) []byte {
	m := make([]byte, 0, len(proxyKeyContext)+len(proxyPub))
	m = append(m, proxyKeyContext...)
	return append(m, proxyPub...)
}
