package xftp

import (
	"crypto/ed25519"
	"fmt"
)

// Authenticator sizes a client may send: none, an Ed25519 signature, and
// two kinds this server accepts on the wire but never verifies (an Ed448
// signature and a crypto_box authenticator; no XFTP client sends them).
const (
	ed448SignatureSize  = 114
	boxAuthenticatorLen = 80
)

// Transmission is one client request as a server reads it from a block.
type Transmission struct {
	// Signature is the authenticator: empty for none, 64 bytes for
	// Ed25519; other accepted sizes never verify.
	Signature []byte
	// Authorized is what the signature covers: the session ID, correlation
	// ID, entity ID and command, each as encoded on the wire.
	Authorized []byte
	SessionID  []byte
	CorrID     []byte
	EntityID   []byte
	// Command is the command's bytes, parsed by ParseCommand.
	Command []byte
}

// ParseTransmission reads the one transmission a client block carries.
// Any malformation is ErrBlock (the protocol's BLOCK).
func ParseTransmission(block []byte) (*Transmission, error) {
	if len(block) != BlockSize {
		return nil, ErrBlock
	}
	msg, err := Unpad(block)
	if err != nil {
		return nil, ErrBlock
	}
	d := &decoder{b: msg}
	if d.byte("batch count") != 1 { // XFTP blocks carry exactly one transmission
		return nil, ErrBlock
	}
	t := d.large("transmission")
	d.end("batch")
	if d.err != nil {
		return nil, ErrBlock
	}
	d = &decoder{b: t}
	tr := &Transmission{Signature: d.short("authenticator")}
	tr.Authorized = d.b
	tr.SessionID = d.short("session ID")
	tr.CorrID = d.short("correlation ID")
	tr.EntityID = d.short("entity ID")
	tr.Command = d.b
	if d.err != nil {
		return nil, ErrBlock
	}
	switch len(tr.Signature) {
	case 0, ed25519.SignatureSize, ed448SignatureSize, boxAuthenticatorLen:
	default:
		return nil, ErrBlock
	}
	return tr, nil
}

// Verify reports whether the transmission is signed by key.
func (t *Transmission) Verify(key ed25519.PublicKey) bool {
	return len(t.Signature) == ed25519.SignatureSize && len(key) == ed25519.PublicKeySize &&
		ed25519.Verify(key, t.Authorized, t.Signature)
}

// EncodeTransmission builds a client block: the command for entityID in
// the session, signed with key (nil: unsigned, as PING is).
func EncodeTransmission(sessionID, corrID, entityID, command []byte, key ed25519.PrivateKey) ([]byte, error) {
	if !fitsShort(sessionID, corrID, entityID) {
		return nil, fmt.Errorf("xftp: session, correlation or entity ID longer than 255 bytes")
	}
	authorized := appendShort(appendShort(appendShort(nil, sessionID), corrID), entityID)
	authorized = append(authorized, command...)
	var sig []byte
	if key != nil {
		sig = ed25519.Sign(key, authorized)
	}
	return batch(append(appendShort(nil, sig), authorized...))
}

// batch frames one transmission as a block.
func batch(t []byte) ([]byte, error) {
	if len(t) > BlockSize-5 {
		return nil, fmt.Errorf("xftp: a %d-byte transmission does not fit a block", len(t))
	}
	return Pad(appendLarge([]byte{1}, t))
}

// EncodeResponse builds a server block: resp for the request's correlation
// and entity IDs, in the session, at the session's protocol version.
func EncodeResponse(sessionID, corrID, entityID []byte, resp *Response, version uint16) ([]byte, error) {
	if !fitsShort(sessionID, corrID, entityID) {
		return nil, fmt.Errorf("xftp: session, correlation or entity ID longer than 255 bytes")
	}
	body, err := resp.Encode(version)
	if err != nil {
		return nil, err
	}
	t := appendShort(appendShort(appendShort(appendShort(nil, nil), sessionID), corrID), entityID)
	return batch(append(t, body...))
}

// ResponseTransmission is a server's answer as a client reads it.
type ResponseTransmission struct {
	SessionID []byte
	CorrID    []byte
	EntityID  []byte
	Response  *Response
}

// ParseResponseTransmission reads a server block. It does not check the
// session ID: the caller compares it with its own.
func ParseResponseTransmission(block []byte) (*ResponseTransmission, error) {
	msg, err := Unpad(block)
	if err != nil {
		return nil, err
	}
	d := &decoder{b: msg}
	if n := d.byte("batch count"); n != 1 && d.err == nil {
		return nil, fmt.Errorf("%w: batch of %d", ErrMalformed, n)
	}
	t := d.large("transmission")
	d.end("batch")
	d2 := &decoder{b: t}
	d2.short("authenticator")
	rt := &ResponseTransmission{SessionID: d2.short("session ID"), CorrID: d2.short("correlation ID"), EntityID: d2.short("entity ID")}
	if err := firstErr(d.err, d2.err); err != nil {
		return nil, err
	}
	if rt.Response, err = ParseResponse(d2.b); err != nil {
		return nil, err
	}
	return rt, nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
