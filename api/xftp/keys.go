package xftp

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
)

// Public keys travel as the DER of their X.509 SubjectPublicKeyInfo.
var (
	ed25519SPKI = []byte{0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00}
	x25519SPKI  = []byte{0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00}
)

// EncodeEd25519 returns pub's SubjectPublicKeyInfo DER (44 bytes).
func EncodeEd25519(pub ed25519.PublicKey) []byte { return append(bytes.Clone(ed25519SPKI), pub...) }

// EncodeX25519 returns the SubjectPublicKeyInfo DER of the 32-byte X25519
// public key pub (44 bytes).
func EncodeX25519(pub []byte) []byte { return append(bytes.Clone(x25519SPKI), pub...) }

// ParseEd25519 parses an Ed25519 SubjectPublicKeyInfo.
func ParseEd25519(der []byte) (ed25519.PublicKey, error) {
	k, ok := bytes.CutPrefix(der, ed25519SPKI)
	if !ok || len(k) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: not an Ed25519 public key", ErrMalformed)
	}
	return ed25519.PublicKey(bytes.Clone(k)), nil
}

// ParseX25519 parses an X25519 SubjectPublicKeyInfo into the raw 32 bytes.
func ParseX25519(der []byte) ([]byte, error) {
	k, ok := bytes.CutPrefix(der, x25519SPKI)
	if !ok || len(k) != 32 {
		return nil, fmt.Errorf("%w: not an X25519 public key", ErrMalformed)
	}
	return bytes.Clone(k), nil
}
