package onion

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// Kind says what a proxy does with a layer's Inner bytes.
type Kind byte

const (
	// KindRelay: Inner is the sealed layer of the next hop, another proxy.
	KindRelay Kind = 1
	// KindRequest: Inner is a Request for the destination server Next.
	KindRequest Kind = 2
	// KindKey: fetch the proxy key of Next (a proxy); Inner is empty.
	KindKey Kind = 3
)

const (
	// Version is the first byte of a sealed layer. Version 2 pads the
	// next hop's address and salts each answer's key.
	Version = 2
	// ResponseKeySize is the size of a layer's response key.
	ResponseKeySize = 32
	// MaxAddress caps the next hop's address. The address field is
	// padded to its full size, so that a layer's size does not tell the
	// proxy that opens it how long the next hop's address is (host names
	// are at most 253 bytes; an xftp address around one at most ~320).
	MaxAddress = 382
	// addressField is the size of the length-prefixed, padded address.
	addressField = 2 + MaxAddress
	// MaxHops is the most proxies a route may have.
	MaxHops = 16
	// MaxLayer caps a sealed layer (the request body a proxy accepts):
	// room for MaxHops layers around the largest request. It also caps a
	// route's depth, whatever its proxies: a route that passes one proxy
	// many times (a loop) makes each hop relay the whole answer again, and
	// at most about 20 layers fit (issue 20: 256 KiB let one 6.7 KB request
	// move a chunk 40 times).
	MaxLayer = MaxHops*(Overhead+ResponseKeySize+1+addressField+4) + maxRequest

	layerInfo   = "xftp proxy layer v2"
	ephSize     = 32
	headerSize  = 1 + ephSize
	gcmOverhead = 16
	// Overhead is what sealing adds to a layer's plaintext.
	Overhead = headerSize + gcmOverhead
)

// ErrLayer means a layer could not be opened or parsed; proxies answer it
// without saying why.
var ErrLayer = errors.New("onion: malformed or undecryptable layer")

// Layer is what one proxy learns: where to send the request next, what the
// request is, and the key under which to seal the answer it relays back.
type Layer struct {
	ResponseKey [ResponseKeySize]byte
	Kind        Kind
	// Next is the next hop's xftp address (no password): the fingerprint
	// in it is pinned by the proxy.
	Next  string
	Inner []byte
}

// Marshal returns the layer's plaintext:
//
//	response key [32] || kind [1] || uint16 len || next || zeros to MaxAddress
//	|| uint32 len || inner
//
// Next must be at most MaxAddress bytes.
func (l *Layer) Marshal() []byte {
	b := make([]byte, 0, ResponseKeySize+1+addressField+4+len(l.Inner))
	b = append(b, l.ResponseKey[:]...)
	b = append(b, byte(l.Kind))
	b = binary.BigEndian.AppendUint16(b, uint16(len(l.Next)))
	b = append(b, l.Next...)
	b = append(b, make([]byte, max(0, MaxAddress-len(l.Next)))...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(l.Inner)))
	return append(b, l.Inner...)
}

// ParseLayer parses a layer's plaintext. Every layer has exactly one
// encoding: trailing bytes, unknown kinds and out-of-range lengths are
// refused.
func ParseLayer(b []byte) (*Layer, error) {
	var l Layer
	if len(b) < ResponseKeySize+1+2 {
		return nil, fmt.Errorf("%w: short", ErrLayer)
	}
	copy(l.ResponseKey[:], b)
	b = b[ResponseKeySize:]
	l.Kind = Kind(b[0])
	if l.Kind < KindRelay || l.Kind > KindKey {
		return nil, fmt.Errorf("%w: unknown kind %d", ErrLayer, l.Kind)
	}
	n := int(binary.BigEndian.Uint16(b[1:]))
	b = b[3:]
	if n == 0 || n > MaxAddress || len(b) < MaxAddress+4 {
		return nil, fmt.Errorf("%w: next hop", ErrLayer)
	}
	l.Next = string(b[:n])
	for _, c := range b[n:MaxAddress] {
		if c != 0 {
			return nil, fmt.Errorf("%w: address padding", ErrLayer)
		}
	}
	b = b[MaxAddress:]
	m := binary.BigEndian.Uint32(b)
	b = b[4:]
	if uint64(m) != uint64(len(b)) || (l.Kind == KindKey) != (m == 0) {
		return nil, fmt.Errorf("%w: inner length", ErrLayer)
	}
	l.Inner = b
	return &l, nil
}

func layerAEAD(shared, eph, proxyPub []byte) (cipher.AEAD, error) {
	salt := append(append(make([]byte, 0, 64), eph...), proxyPub...)
	key, err := hkdf.Key(sha256.New, shared, salt, layerInfo, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Seal seals l to the proxy whose X25519 proxy key is proxyPub:
//
//	Version (2) || ephemeral X25519 public key [32] || AES-256-GCM(plaintext)
//
// The GCM key is HKDF-SHA256(X25519(eph, proxy), salt = eph || proxy,
// info "xftp proxy layer v2"); it is used once, so the nonce is zero. The
// first 33 bytes are the additional data.
func Seal(proxyPub []byte, l *Layer) ([]byte, error) {
	if len(l.Next) > MaxAddress {
		return nil, fmt.Errorf("onion: next hop address longer than %d bytes", MaxAddress)
	}
	eph, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return seal(eph, proxyPub, l.Marshal())
}

// seal seals a layer's plaintext with the ephemeral key given (the vector
// test fixes it).
func seal(eph *ecdh.PrivateKey, proxyPub, plain []byte) ([]byte, error) {
	pk, err := ecdh.X25519().NewPublicKey(proxyPub)
	if err != nil {
		return nil, fmt.Errorf("onion: bad proxy key: %w", err)
	}
	shared, err := eph.ECDH(pk)
	if err != nil {
		return nil, fmt.Errorf("onion: %w", err)
	}
	aead, err := layerAEAD(shared, eph.PublicKey().Bytes(), proxyPub)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, headerSize+len(plain)+gcmOverhead)
	out = append(out, Version)
	out = append(out, eph.PublicKey().Bytes()...)
	var nonce [12]byte
	return aead.Seal(out, nonce[:], plain, out[:headerSize]), nil
}

// Open opens and parses a layer sealed to priv.
func Open(priv *ecdh.PrivateKey, sealed []byte) (*Layer, error) {
	if len(sealed) < Overhead || len(sealed) > MaxLayer || sealed[0] != Version {
		return nil, ErrLayer
	}
	pk, err := ecdh.X25519().NewPublicKey(sealed[1:headerSize])
	if err != nil {
		return nil, ErrLayer
	}
	shared, err := priv.ECDH(pk)
	if err != nil {
		return nil, ErrLayer // a low-order point
	}
	aead, err := layerAEAD(shared, sealed[1:headerSize], priv.PublicKey().Bytes())
	if err != nil {
		return nil, err
	}
	var nonce [12]byte
	plain, err := aead.Open(nil, nonce[:], sealed[headerSize:], sealed[:headerSize])
	if err != nil {
		return nil, ErrLayer
	}
	return ParseLayer(plain)
}
