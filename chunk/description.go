package chunk

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// DescriptionVersion is the version of the description format.
const DescriptionVersion = 1

// Limits on replicas in a description.
const (
	MaxServerLen = 1024 // bytes of a server address
	MaxIDLen     = 64   // bytes of a sender or recipient ID
)

// ErrDescription is wrapped by every error about a malformed description.
var ErrDescription = errors.New("chunk: invalid file description")

// Party says whose description it is.
type Party string

// The parties of a file.
const (
	// PartyRecipient may download the chunks with recipient IDs.
	PartyRecipient Party = "recipient"
	// PartySender may manage (delete, add recipients to) the chunks with
	// sender IDs.
	PartySender Party = "sender"
)

// Description describes an uploaded file: how to fetch its chunks and how
// to decrypt them. It is a secret: whoever holds it can read the file (or,
// for a sender description, delete it).
//
// Its YAML form (Marshal) looks like this; binary values are unpadded
// base64url, chunk sizes and the total size are in bytes, and a replica key
// is the 32-byte seed of an Ed25519 private key:
//
//	xftp_description: 1
//	party: recipient
//	size: 327680
//	key: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8
//	chunks:
//	  - "no": 1
//	    size: 262144
//	    digest: GZOjxjPPPk_YmL6sy_VsFUQjXNj5c5bjy-MJUlAqUWc
//	    replicas:
//	      - server: xftp://LTeNBM2Hy2h1KcLB4X1JELflFdyWyvdbQNzh65U-Ims@files.example.org:443
//	        id: cmVjaXBpZW50LTFh
//	        key: azEsoRjnGqVzn1DdrOuG8EFLvn5XHnL2eAXpNKcJGc4
//	      - server: xftp://47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU@[2001:db8::1]:8443
//	        id: cmVjaXBpZW50LTFi
//	        key: -XddcyqkPPF56mZ_oLIJsO1rw3cQzSyg7PJ-SYX9bFM
//	  - "no": 2
//	    ...
//
// ("no" is quoted because YAML 1.1 readers take a bare no for false; Parse
// accepts it bare too.) Parse is strict: unknown fields, duplicate keys,
// numbers that are not integers, non-canonical base64 and more than one
// YAML document are rejected. See testdata/descriptions for examples.
type Description struct {
	Version int    // DescriptionVersion
	Party   Party  // PartyRecipient or PartySender
	Size    int64  // total encrypted size, the sum of the chunk sizes
	Key     []byte // the KeySize-byte file key
	Chunks  []ChunkRef
}

// ChunkRef describes one encrypted chunk.
type ChunkRef struct {
	Number   int      // 1-based position in the file; chunks are numbered 1..n in order
	Size     int64    // a positive multiple of SealedSegmentSize, at most Size4M
	Digest   [32]byte // SHA-256 of the encrypted chunk as stored
	Replicas []Replica
}

// Replica is one copy of a chunk on one server.
type Replica struct {
	// Server is the server's address, "xftp://<fingerprint>@host:port".
	// This package only requires 1..MaxServerLen bytes of UTF-8 without
	// control characters; package api parses it.
	Server string
	// ID is the chunk's sender or recipient ID on that server,
	// 1..MaxIDLen bytes.
	ID []byte
	// Key authorizes requests for ID. Only its seed is stored.
	Key ed25519.PrivateKey
}

// ChunkSizes returns the sizes of the chunks in order.
func (d *Description) ChunkSizes() []int64 {
	sizes := make([]int64, len(d.Chunks))
	for i, c := range d.Chunks {
		sizes[i] = c.Size
	}
	return sizes
}

func descErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrDescription}, args...)...)
}

// Validate checks d and returns an error wrapping ErrDescription that
// names the first wrong field.
func (d *Description) Validate() error {
	if d == nil {
		return descErr("nil description")
	}
	if d.Version != DescriptionVersion {
		return descErr("xftp_description: version %d is not supported, want %d", d.Version, DescriptionVersion)
	}
	if d.Party != PartyRecipient && d.Party != PartySender {
		return descErr("party: %q is neither %q nor %q", d.Party, PartyRecipient, PartySender)
	}
	if len(d.Key) != KeySize {
		return descErr("key: %d bytes, want %d", len(d.Key), KeySize)
	}
	if len(d.Chunks) == 0 {
		return descErr("chunks: none")
	}
	if len(d.Chunks) > MaxChunks {
		return descErr("chunks: %d, more than %d", len(d.Chunks), MaxChunks)
	}
	var sum int64
	for i, c := range d.Chunks {
		if c.Number != i+1 {
			return descErr("chunks[%d].no: %d, want %d", i, c.Number, i+1)
		}
		if c.Size <= 0 || c.Size%SealedSegmentSize != 0 || c.Size > Size4M {
			return descErr("chunks[%d].size: %d is not a positive multiple of %d up to %d", i, c.Size, SealedSegmentSize, Size4M)
		}
		sum += c.Size
		if len(c.Replicas) == 0 {
			return descErr("chunks[%d].replicas: none", i)
		}
		for j, r := range c.Replicas {
			if err := r.validate(); err != nil {
				return descErr("chunks[%d].replicas[%d].%v", i, j, err)
			}
		}
	}
	if sum != d.Size {
		return descErr("size: %d, but the chunk sizes add up to %d", d.Size, sum)
	}
	return nil
}

func (r *Replica) validate() error {
	if len(r.Server) == 0 || len(r.Server) > MaxServerLen {
		return fmt.Errorf("server: %d bytes, want 1..%d", len(r.Server), MaxServerLen)
	}
	if !utf8.ValidString(r.Server) {
		return errors.New("server: not valid UTF-8")
	}
	for _, c := range r.Server {
		if unicode.IsControl(c) {
			return fmt.Errorf("server: control character %U", c)
		}
	}
	if len(r.ID) == 0 || len(r.ID) > MaxIDLen {
		return fmt.Errorf("id: %d bytes, want 1..%d", len(r.ID), MaxIDLen)
	}
	if len(r.Key) != ed25519.PrivateKeySize {
		return fmt.Errorf("key: %d bytes, want an Ed25519 private key", len(r.Key))
	}
	// Only the seed is stored, so the public half must be the one the
	// seed derives, or the key would change in a round trip.
	if !bytes.Equal(ed25519.NewKeyFromSeed(r.Key.Seed()), r.Key) {
		return errors.New("key: public half does not match the seed")
	}
	return nil
}

// The YAML form. Field order here is the order in the output.
type yamlDescription struct {
	Version yamlInt     `yaml:"xftp_description"`
	Party   string      `yaml:"party"`
	Size    yamlInt     `yaml:"size"`
	Key     string      `yaml:"key"`
	Chunks  []yamlChunk `yaml:"chunks"`
}

type yamlChunk struct {
	No       yamlInt       `yaml:"no"`
	Size     yamlInt       `yaml:"size"`
	Digest   string        `yaml:"digest"`
	Replicas []yamlReplica `yaml:"replicas"`
}

type yamlReplica struct {
	Server string `yaml:"server"`
	ID     string `yaml:"id"`
	Key    string `yaml:"key"`
}

// yamlInt is an integer that must be written as one: yaml.v3 would
// otherwise truncate 1.5 to 1.
type yamlInt int64

func (n *yamlInt) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind != yaml.ScalarNode || node.ShortTag() != "!!int" {
		return fmt.Errorf("line %d: %q is not an integer", node.Line, node.Value)
	}
	var v int64
	if err := node.Decode(&v); err != nil {
		return err
	}
	*n = yamlInt(v)
	return nil
}

var b64 = base64.RawURLEncoding.Strict()

// decodeB64 decodes canonical unpadded base64url: no padding, no line
// breaks, no stray bits.
func decodeB64(s string) ([]byte, error) {
	b, err := b64.DecodeString(s)
	if err != nil || b64.EncodeToString(b) != s {
		return nil, errors.New("not unpadded base64url")
	}
	return b, nil
}

// Marshal returns the YAML form of d after validating it.
func (d *Description) Marshal() ([]byte, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	y := yamlDescription{
		Version: yamlInt(d.Version),
		Party:   string(d.Party),
		Size:    yamlInt(d.Size),
		Key:     b64.EncodeToString(d.Key),
		Chunks:  make([]yamlChunk, len(d.Chunks)),
	}
	for i, c := range d.Chunks {
		yc := yamlChunk{No: yamlInt(c.Number), Size: yamlInt(c.Size), Digest: b64.EncodeToString(c.Digest[:]), Replicas: make([]yamlReplica, len(c.Replicas))}
		for j, r := range c.Replicas {
			yc.Replicas[j] = yamlReplica{Server: r.Server, ID: b64.EncodeToString(r.ID), Key: b64.EncodeToString(r.Key.Seed())}
		}
		y.Chunks[i] = yc
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&y); err != nil {
		return nil, fmt.Errorf("chunk: encoding description: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("chunk: encoding description: %w", err)
	}
	return buf.Bytes(), nil
}

// Parse parses a description in its YAML form or its link form (see
// Description.Link) and validates it. Every error wraps ErrDescription.
func Parse(b []byte) (*Description, error) {
	if t := bytes.TrimSpace(b); bytes.HasPrefix(t, []byte(LinkPrefix)) {
		return parseLink(string(t))
	}
	return parseYAML(b)
}

func parseYAML(b []byte) (d *Description, err error) {
	// A decoder bug must not take the client down on a hostile input.
	defer func() {
		if p := recover(); p != nil {
			d, err = nil, descErr("malformed YAML")
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var y yamlDescription
	if err := dec.Decode(&y); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, descErr("empty")
		}
		return nil, descErr("%v", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, descErr("more than one YAML document")
	}
	if y.Version != DescriptionVersion {
		// Later fields may mean something else in another version.
		return nil, descErr("xftp_description: version %d is not supported, want %d", y.Version, DescriptionVersion)
	}
	d = &Description{Version: int(y.Version), Party: Party(y.Party), Size: int64(y.Size)}
	if d.Key, err = decodeB64(y.Key); err != nil {
		return nil, descErr("key: %v", err)
	}
	if len(y.Chunks) > MaxChunks {
		return nil, descErr("chunks: %d, more than %d", len(y.Chunks), MaxChunks)
	}
	d.Chunks = make([]ChunkRef, len(y.Chunks))
	for i, yc := range y.Chunks {
		if yc.No < 1 || yc.No > MaxChunks {
			return nil, descErr("chunks[%d].no: %d, want %d", i, yc.No, i+1)
		}
		c := ChunkRef{Number: int(yc.No), Size: int64(yc.Size), Replicas: make([]Replica, len(yc.Replicas))}
		digest, err := decodeB64(yc.Digest)
		if err != nil || len(digest) != len(c.Digest) {
			return nil, descErr("chunks[%d].digest: want %d bytes of unpadded base64url", i, len(c.Digest))
		}
		copy(c.Digest[:], digest)
		for j, yr := range yc.Replicas {
			r := Replica{Server: yr.Server}
			if r.ID, err = decodeB64(yr.ID); err != nil {
				return nil, descErr("chunks[%d].replicas[%d].id: %v", i, j, err)
			}
			seed, err := decodeB64(yr.Key)
			if err != nil || len(seed) != ed25519.SeedSize {
				return nil, descErr("chunks[%d].replicas[%d].key: want a %d-byte seed in unpadded base64url", i, j, ed25519.SeedSize)
			}
			r.Key = ed25519.NewKeyFromSeed(seed)
			c.Replicas[j] = r
		}
		d.Chunks[i] = c
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return d, nil
}
