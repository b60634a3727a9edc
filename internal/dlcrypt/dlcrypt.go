// Package dlcrypt is the per-download transport encryption shared by server
// and client: an ephemeral X25519 exchange per request, HKDF-SHA256, and a
// STREAM cipher over the stored chunk, so that the bytes a recipient
// downloads share nothing with the bytes the sender uploaded.
package dlcrypt

import (
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"fmt"

	"github.com/xftp/xftp/internal/stream"
)

const (
	info          = "xftp download v1"
	signedContext = "xftp download key v1\x00"
)

// KeyMessage is what the server's identity key signs to bind its ephemeral
// key to this download, so that no one between client and server (such as a
// TLS-terminating proxy) can substitute its own key.
func KeyMessage(serverPub, clientPub []byte) []byte {
	m := make([]byte, 0, len(signedContext)+64)
	m = append(m, signedContext...)
	m = append(m, serverPub...)
	return append(m, clientPub...)
}

func cipherFor(priv *ecdh.PrivateKey, peer []byte, serverPub, clientPub []byte) (*stream.Cipher, error) {
	pk, err := ecdh.X25519().NewPublicKey(peer)
	if err != nil {
		return nil, fmt.Errorf("dlcrypt: bad X25519 key: %w", err)
	}
	shared, err := priv.ECDH(pk)
	if err != nil {
		return nil, fmt.Errorf("dlcrypt: %w", err)
	}
	salt := append(append([]byte{}, serverPub...), clientPub...)
	key, err := hkdf.Key(sha256.New, shared, salt, info, stream.KeySize)
	if err != nil {
		return nil, err
	}
	return stream.New(key, stream.DefaultSegmentSize)
}

// ServerCipher makes a fresh server key for one download against the
// client's ephemeral public key. It returns the server's public key, to send
// to the client, and the cipher that seals the chunk.
func ServerCipher(clientPub []byte) (serverPub []byte, c *stream.Cipher, err error) {
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	return serverCipher(priv, clientPub)
}

// serverCipher is ServerCipher with the server's key given (the vector
// test fixes it).
func serverCipher(priv *ecdh.PrivateKey, clientPub []byte) (serverPub []byte, c *stream.Cipher, err error) {
	serverPub = priv.PublicKey().Bytes()
	c, err = cipherFor(priv, clientPub, serverPub, clientPub)
	return serverPub, c, err
}

// ClientKey is a client's ephemeral key for one download.
type ClientKey struct{ priv *ecdh.PrivateKey }

// NewClientKey makes a fresh ephemeral key.
func NewClientKey() (*ClientKey, error) {
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return &ClientKey{priv: priv}, nil
}

// Public returns the key to send to the server.
func (k *ClientKey) Public() []byte { return k.priv.PublicKey().Bytes() }

// Cipher returns the cipher that opens the chunk sealed by the server with
// public key serverPub.
func (k *ClientKey) Cipher(serverPub []byte) (*stream.Cipher, error) {
	return cipherFor(k.priv, serverPub, serverPub, k.Public())
}
