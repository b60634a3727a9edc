package xftp

import (
	"crypto/ecdh"
	"crypto/rand"
	"fmt"
	"io"

	//lint:ignore SA1019 HSalsa20 is what crypto_box_beforenm is; no other API offers it
	"golang.org/x/crypto/salsa20/salsa"

	"github.com/xftp/xftp/internal/tailbox"
)

// A downloaded body is sealed for its one request: NaCl crypto_box's
// shared key of the server's fresh X25519 key and the recipient's FGET key,
// and XSalsa20-Poly1305 with a fresh nonce, the tag after the ciphertext.

// SealBody returns the server's ephemeral X25519 public key, the nonce and a
// reader of the sealed body (size bytes of body, then the tag).
func SealBody(clientDH []byte, body io.Reader, size int64) (serverDH []byte, nonce [24]byte, sealed io.Reader, err error) {
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, nonce, nil, err
	}
	rand.Read(nonce[:])
	sealed, err = sealBodyWith(priv, nonce, clientDH, body, size)
	return priv.PublicKey().Bytes(), nonce, sealed, err
}

func sealBodyWith(priv *ecdh.PrivateKey, nonce [24]byte, clientDH []byte, body io.Reader, size int64) (io.Reader, error) {
	key, err := sharedKey(priv, clientDH)
	if err != nil {
		return nil, err
	}
	return tailbox.NewSealer(key, &nonce, body, size), nil
}

// OpenBody returns a reader of the plaintext of a sealed body of size
// bytes (then the tag), given the client's FGET private key and the FILE
// response. Its last Read fails with tailbox.ErrAuth if the body was altered.
func OpenBody(clientPriv *ecdh.PrivateKey, serverDH []byte, nonce [24]byte, sealed io.Reader, size int64) (io.Reader, error) {
	key, err := sharedKey(clientPriv, serverDH)
	if err != nil {
		return nil, err
	}
	return tailbox.NewOpener(key, &nonce, sealed, size), nil
}

// sharedKey is crypto_box_beforenm: HSalsa20 of the X25519 shared secret
// (one X25519, as box.Precompute would do, but through crypto/ecdh, which
// refuses low-order points and so an all-zero secret).
func sharedKey(priv *ecdh.PrivateKey, peer []byte) (*[32]byte, error) {
	pub, err := ecdh.X25519().NewPublicKey(peer)
	if err != nil {
		return nil, fmt.Errorf("%w: X25519 key", ErrMalformed)
	}
	secret, err := priv.ECDH(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: X25519 key", ErrMalformed)
	}
	var k, s [32]byte
	var zero [16]byte
	copy(s[:], secret)
	salsa.HSalsa20(&k, &zero, &s, &salsa.Sigma)
	return &k, nil
}
