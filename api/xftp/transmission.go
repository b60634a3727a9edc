package xftp

import (
	"crypto/ed25519"
	"encoding/binary"
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

// Clone returns a copy of t that shares no memory with the block it was
// parsed from, so that the block's buffer can be reused: one allocation
// of the transmission's own size instead of the block's 16 KiB.
func (t *Transmission) Clone() *Transmission {
	buf := make([]byte, 0, len(t.Signature)+len(t.Authorized))
	buf = append(append(buf, t.Signature...), t.Authorized...)
	sig, auth := buf[:len(t.Signature):len(t.Signature)], buf[len(t.Signature):]
	// Authorized holds the session, correlation and entity IDs (each led
	// by its length byte) and then the command, all as parsed.
	at := func(off int, v []byte) ([]byte, int) {
		return auth[off+1 : off+1+len(v) : off+1+len(v)], off + 1 + len(v)
	}
	c := &Transmission{Signature: sig, Authorized: auth}
	off := 0
	c.SessionID, off = at(off, t.SessionID)
	c.CorrID, off = at(off, t.CorrID)
	c.EntityID, off = at(off, t.EntityID)
	c.Command = auth[off:]
	return c
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
	block := make([]byte, BlockSize)
	if err := EncodeResponseInto(block, sessionID, corrID, entityID, resp, version); err != nil {
		return nil, err
	}
	return block, nil
}

// EncodeResponseInto writes the block EncodeResponse returns into block,
// which must be BlockSize bytes long.
func EncodeResponseInto(block, sessionID, corrID, entityID []byte, resp *Response, version uint16) error {
	if !fitsShort(sessionID, corrID, entityID) {
		return fmt.Errorf("xftp: session, correlation or entity ID longer than 255 bytes")
	}
	body, err := resp.Encode(version)
	if err != nil {
		return err
	}
	// The block: the batch's length, the batch (a count of one, the
	// transmission's 2-byte length, the transmission: an empty
	// authenticator, the IDs, the response), then the padding; as
	// Pad(batch(…)) makes it, without the copies.
	n := 1 + 1 + len(sessionID) + 1 + len(corrID) + 1 + len(entityID) + len(body)
	if n > BlockSize-5 {
		return fmt.Errorf("xftp: a %d-byte transmission does not fit a block", n)
	}
	if len(block) != BlockSize {
		return fmt.Errorf("xftp: a block buffer of %d bytes", len(block))
	}
	msg := binary.BigEndian.AppendUint16(block[:0], uint16(3+n))
	msg = binary.BigEndian.AppendUint16(append(msg, 1), uint16(n))
	msg = appendShort(appendShort(appendShort(appendShort(msg, nil), sessionID), corrID), entityID)
	msg = append(msg, body...)
	copy(block[len(msg):], padding)
	return nil
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
