package xftp

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
)

// Command tags.
const (
	FNEW = "FNEW" // create a file chunk (sender)
	FADD = "FADD" // add recipients (sender)
	FPUT = "FPUT" // upload the body (sender)
	FDEL = "FDEL" // delete the chunk (sender)
	FGET = "FGET" // download the body (recipient)
	FACK = "FACK" // acknowledge, removing the recipient ID (recipient)
	PING = "PING" // liveness (no party)
)

// MaxKeys is the most recipient keys (and IDs) one command or response
// carries: a NonEmpty list's 1-byte count.
const MaxKeys = 255

// Command is a parsed client command. Which fields are set depends on Tag.
type Command struct {
	Tag string
	// FNEW: the chunk's sender key, size and SHA-256 digest, the
	// recipients' keys (also FADD), and the optional upload password.
	SenderKey     ed25519.PublicKey
	Size          uint32
	Digest        []byte
	RecipientKeys []ed25519.PublicKey
	BasicAuth     []byte // nil: none given
	// FGET: the recipient's ephemeral X25519 public key (32 bytes).
	DHKey []byte
}

// Sender reports whether the command belongs to a chunk's sender (its
// entity ID is a sender ID, its key the sender key).
func (c *Command) Sender() bool {
	return c.Tag == FNEW || c.Tag == FADD || c.Tag == FPUT || c.Tag == FDEL
}

// ParseCommand parses a command as a server does: an unknown tag is
// CMD UNKNOWN, anything else wrong CMD SYNTAX.
func ParseCommand(b []byte) (*Command, *Error) {
	tag, _, _ := bytes.Cut(b, []byte{' '})
	params := b[len(tag):] // from the space on: the fields' parsers read it
	c := &Command{Tag: string(tag)}
	d := &decoder{b: params}
	switch c.Tag {
	case FNEW:
		d.space("FNEW")
		c.SenderKey = d.ed25519Key("sender key")
		c.Size = d.word32("size")
		c.Digest = d.short("digest")
		c.RecipientKeys = d.ed25519Keys()
		if d.maybe("basic auth") {
			c.BasicAuth = d.short("basic auth")
			if d.err == nil && !validBasicAuth(c.BasicAuth) {
				d.fail("basic auth characters")
			}
		}
	case FADD:
		d.space("FADD")
		c.RecipientKeys = d.ed25519Keys()
	case FGET:
		d.space("FGET")
		k, err := ParseX25519(d.short("DH key"))
		if err != nil && d.err == nil {
			d.fail("DH key")
		}
		c.DHKey = k
	case FPUT, FDEL, FACK, PING:
	default:
		return nil, CmdError(CmdUnknown)
	}
	d.end(c.Tag)
	if d.err != nil {
		return nil, CmdError(CmdSyntax)
	}
	return c, nil
}

func (d *decoder) ed25519Key(what string) ed25519.PublicKey {
	k, err := ParseEd25519(d.short(what))
	if err != nil && d.err == nil {
		d.fail(what)
	}
	return k
}

func (d *decoder) ed25519Keys() []ed25519.PublicKey {
	n := d.count("recipient keys")
	keys := make([]ed25519.PublicKey, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		keys = append(keys, d.ed25519Key("recipient key"))
	}
	return keys
}

// validBasicAuth: printable ASCII without space, '@', ':' or '/'
// (simplexmq's BasicAuth).
func validBasicAuth(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c > '~' || c == '@' || c == ':' || c == '/' {
			return false
		}
	}
	return true
}

// Encode returns the command's wire bytes.
func (c *Command) Encode() ([]byte, error) {
	b := []byte(c.Tag)
	switch c.Tag {
	case FNEW:
		if len(c.SenderKey) != ed25519.PublicKeySize || len(c.Digest) > 255 || len(c.BasicAuth) > 255 {
			return nil, fmt.Errorf("xftp: FNEW fields out of range")
		}
		b = appendShort(append(b, ' '), EncodeEd25519(c.SenderKey))
		b = binary.BigEndian.AppendUint32(b, c.Size)
		b = appendShort(b, c.Digest)
		var err error
		if b, err = appendKeys(b, c.RecipientKeys); err != nil {
			return nil, err
		}
		if c.BasicAuth == nil {
			b = append(b, '0')
		} else {
			b = appendShort(append(b, '1'), c.BasicAuth)
		}
	case FADD:
		return appendKeys(append(b, ' '), c.RecipientKeys)
	case FGET:
		if len(c.DHKey) != 32 {
			return nil, fmt.Errorf("xftp: FGET needs a 32-byte X25519 key")
		}
		b = appendShort(append(b, ' '), EncodeX25519(c.DHKey))
	case FPUT, FDEL, FACK, PING:
	default:
		return nil, fmt.Errorf("xftp: unknown command %q", c.Tag)
	}
	return b, nil
}

func appendKeys(b []byte, keys []ed25519.PublicKey) ([]byte, error) {
	if len(keys) == 0 || len(keys) > MaxKeys {
		return nil, fmt.Errorf("xftp: %d recipient keys; 1 to %d per command", len(keys), MaxKeys)
	}
	b = append(b, byte(len(keys)))
	for _, k := range keys {
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("xftp: a recipient key is not Ed25519")
		}
		b = appendShort(b, EncodeEd25519(k))
	}
	return b, nil
}
