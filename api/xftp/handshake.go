package xftp

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
)

// Protocol versions. v1 to v3 are the same on the wire except that below
// v3 a BLOCKED error is sent as AUTH.
const (
	VersionInitial      = 1
	VersionAuthCmds     = 2
	VersionBlockedFiles = 3
	VersionMin          = VersionInitial
	VersionMax          = VersionBlockedFiles
)

// ALPN is the protocol that native clients (SimpleX's apps and CLI) offer
// in TLS; web clients use "h2".
const ALPN = "xftp/1"

// ChallengeSize is the size of a web client's identity challenge.
const ChallengeSize = 32

// KeyHashSize is the size of a server's key hash: SHA-256 of its CA certificate.
const KeyHashSize = 32

// ServerHello is the server's handshake message.
type ServerHello struct {
	MinVersion, MaxVersion uint16
	SessionID              []byte
	// CertChain is the DER of the TLS certificate chain of the XFTP
	// identity: the online leaf, then the CA.
	CertChain [][]byte
	// SignedKey is the server's X25519 key signed by the leaf (SignDHKey).
	SignedKey []byte
	// IdentityProof is the leaf's signature over a web client's challenge
	// and the session ID; nil for native clients.
	IdentityProof []byte
}

// Encode returns the padded block.
func (h *ServerHello) Encode() ([]byte, error) {
	if len(h.CertChain) == 0 || len(h.CertChain) > 255 || !fitsShort(h.SessionID, h.IdentityProof) {
		return nil, fmt.Errorf("xftp: server hello fields out of range")
	}
	b := binary.BigEndian.AppendUint16(nil, h.MinVersion)
	b = binary.BigEndian.AppendUint16(b, h.MaxVersion)
	b = appendShort(b, h.SessionID)
	b = append(b, byte(len(h.CertChain)))
	for _, c := range h.CertChain {
		if len(c) > 0xffff {
			return nil, fmt.Errorf("xftp: certificate too large")
		}
		b = appendLarge(b, c)
	}
	b = appendLarge(b, h.SignedKey)
	b = appendShort(b, h.IdentityProof)
	return Pad(b)
}

// ParseServerHello parses a server hello block. A short upper-case text
// instead is the server's handshake error, returned as *Error.
func ParseServerHello(block []byte) (*ServerHello, error) {
	msg, err := Unpad(block)
	if err != nil {
		return nil, err
	}
	if e := handshakeError(msg); e != nil {
		return nil, e
	}
	d := &decoder{b: msg}
	h := &ServerHello{MinVersion: d.word16("version range"), MaxVersion: d.word16("version range")}
	h.SessionID = d.short("session ID")
	n := d.count("certificate chain")
	for i := 0; i < n && d.err == nil; i++ {
		h.CertChain = append(h.CertChain, d.large("certificate"))
	}
	h.SignedKey = d.large("signed key")
	if len(d.b) > 0 { // older servers end here; the rest is Tail
		if p := d.short("identity proof"); len(p) > 0 {
			h.IdentityProof = p
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if h.MinVersion > h.MaxVersion {
		return nil, fmt.Errorf("%w: version range %d-%d", ErrMalformed, h.MinVersion, h.MaxVersion)
	}
	return h, nil
}

// handshakeError recognises a raw error string such as "HANDSHAKE".
func handshakeError(msg []byte) *Error {
	if len(msg) == 0 || len(msg) >= 20 {
		return nil
	}
	for _, c := range msg {
		if !(c >= 'A' && c <= 'Z' || c == '_') {
			return nil
		}
	}
	e, err := ParseError(msg)
	if err != nil {
		return &Error{Code: string(msg)}
	}
	return e
}

// EncodeHandshakeError is the raw padded error a server sends during the
// handshake (not a transmission).
func EncodeHandshakeError(e *Error) []byte {
	b, _ := Pad(e.Encode()) // error strings always fit
	return b
}

// EncodeClientHello is a web client's hello: its challenge, padded. A
// native client's hello is an empty body instead.
func EncodeClientHello(challenge []byte) ([]byte, error) {
	if len(challenge) != ChallengeSize {
		return nil, fmt.Errorf("xftp: a web challenge is %d bytes", ChallengeSize)
	}
	return Pad(appendShort([]byte{'1'}, challenge))
}

// ParseClientHello returns a web hello's challenge (nil for "no
// challenge"). The block must be padded.
func ParseClientHello(block []byte) ([]byte, error) {
	msg, err := Unpad(block)
	if err != nil {
		return nil, err
	}
	d := &decoder{b: msg}
	var ch []byte
	if d.maybe("challenge") {
		ch = d.short("challenge")
		if d.err == nil && len(ch) != ChallengeSize {
			d.fail("challenge size")
		}
	}
	return ch, d.err // the rest is Tail
}

// ClientHandshake is the client's choice of version and the key hash it
// expects the server to have.
type ClientHandshake struct {
	Version uint16
	KeyHash []byte
}

// Encode returns the padded block.
func (h *ClientHandshake) Encode() ([]byte, error) {
	if len(h.KeyHash) > 255 {
		return nil, fmt.Errorf("xftp: key hash too long")
	}
	return Pad(appendShort(binary.BigEndian.AppendUint16(nil, h.Version), h.KeyHash))
}

// ParseClientHandshake parses a client handshake block, which must be
// exactly one block.
func ParseClientHandshake(block []byte) (*ClientHandshake, error) {
	if len(block) != BlockSize {
		return nil, fmt.Errorf("%w: handshake of %d bytes", ErrMalformed, len(block))
	}
	msg, err := Unpad(block)
	if err != nil {
		return nil, err
	}
	d := &decoder{b: msg}
	h := &ClientHandshake{Version: d.word16("version"), KeyHash: d.short("key hash")}
	return h, d.err // the rest is Tail
}

// The signed DH key is X.509's SignedExact of the X25519 key in the layout
// of Haskell's x509 objectToSignedExact, which wraps the signed object in
// one more SEQUENCE: SEQUENCE { SEQUENCE { SPKI }, AlgorithmIdentifier
// Ed25519, BIT STRING signature }. Native clients need the wrapper.
var (
	signedKeyHead = []byte{0x30, 0x78}
	objectHead    = []byte{0x30, 0x2c}
	ed25519AlgID  = []byte{0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70}
	sigHead       = []byte{0x03, 0x41, 0x00}
)

// SignDHKey returns the SignedExact DER of the X25519 public key dh,
// signed by leaf.
func SignDHKey(leaf ed25519.PrivateKey, dh []byte) []byte {
	object := append(bytes.Clone(objectHead), EncodeX25519(dh)...)
	b := append(bytes.Clone(signedKeyHead), object...)
	b = append(b, ed25519AlgID...)
	b = append(b, sigHead...)
	return append(b, ed25519.Sign(leaf, object)...)
}

// VerifyDHKey checks a signed DH key against the leaf's public key and
// returns the X25519 key. It accepts only the wrapped layout, as native
// clients do.
func VerifyDHKey(signed []byte, leaf ed25519.PublicKey) ([]byte, error) {
	const objectLen = 46
	rest, ok := bytes.CutPrefix(signed, signedKeyHead)
	if !ok || len(rest) != objectLen+len(ed25519AlgID)+len(sigHead)+ed25519.SignatureSize ||
		!bytes.HasPrefix(rest, objectHead) {
		return nil, fmt.Errorf("%w: signed DH key layout", ErrMalformed)
	}
	object, rest := rest[:objectLen], rest[objectLen:]
	rest, ok1 := bytes.CutPrefix(rest, ed25519AlgID)
	sig, ok2 := bytes.CutPrefix(rest, sigHead)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("%w: signed DH key algorithm", ErrMalformed)
	}
	if len(leaf) != ed25519.PublicKeySize || !ed25519.Verify(leaf, object, sig) {
		return nil, fmt.Errorf("xftp: the signed DH key does not verify with the TLS leaf key")
	}
	return ParseX25519(object[len(objectHead):])
}

// IdentityProofMessage is what a web identity proof signs.
func IdentityProofMessage(challenge, sessionID []byte) []byte {
	return append(bytes.Clone(challenge), sessionID...)
}
