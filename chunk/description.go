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
	// PartyRedirect is a recipient description whose file is itself a
	// recipient description (YAML), for descriptions too large for a link:
	// the downloader fetches it, then the file it describes.
	PartyRedirect Party = "redirect"
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
// A file with Reed-Solomon parity (see "Erasure coding" in the package
// documentation) has two more fields: erasure, right after key, and parity
// after chunks, listing the parity chunks in the same form, numbered 1..p;
// stripe s (0-based) has parity chunks s*M+1..s*M+M:
//
//	key: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8
//	erasure: {data: 2, parity: 1}
//	chunks:
//	  ...
//	parity:
//	  - "no": 1
//	    size: 262144
//	    ...
//
// A description without parity has neither field, so its form is the one
// older readers know. Older readers reject a description with parity
// (unknown field) instead of misreading it, so the version stays 1.
//
// ("no" is quoted because YAML 1.1 readers take a bare no for false; Parse
// accepts it bare too.) Parse is strict: unknown fields, duplicate keys,
// numbers that are not integers, non-canonical base64 and more than one
// YAML document are rejected. See testdata/descriptions for examples.
type Description struct {
	Version int    // DescriptionVersion
	Party   Party  // PartyRecipient or PartySender
	Size    int64  // total encrypted size, the sum of the (data) chunk sizes
	Key     []byte // the KeySize-byte file key
	Chunks  []ChunkRef
	// Erasure is the Reed-Solomon scheme of the file; the zero value means
	// no parity, and then Parity is empty.
	Erasure ErasureParams
	// Parity lists the parity chunks, stripe by stripe: stripe s has
	// Parity[s*M : s*M+M] for M = Erasure.Parity. A parity chunk is as
	// large as the largest data chunk of its stripe. Numbers run 1..len.
	Parity []ChunkRef
}

// ErasureParams is a Reed-Solomon scheme: stripes of Data data chunks
// (the last may have fewer) each get Parity parity chunks. In a
// description both are at least 1 and Data+Parity is at most MaxShards,
// or both are zero for no parity.
type ErasureParams struct {
	Data, Parity int
}

// ChunkRef describes one encrypted chunk or one parity chunk.
type ChunkRef struct {
	Number   int      // 1-based position in its list; chunks are numbered 1..n in order
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
	if d.Party != PartyRecipient && d.Party != PartySender && d.Party != PartyRedirect {
		return descErr("party: %q is not %q, %q or %q", d.Party, PartyRecipient, PartySender, PartyRedirect)
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
	sum, err := validateRefs("chunks", d.Chunks)
	if err != nil {
		return err
	}
	if sum != d.Size {
		return descErr("size: %d, but the chunk sizes add up to %d", d.Size, sum)
	}
	return d.validateParity()
}

// validateRefs checks the chunk list called name and returns the sum of
// the chunk sizes.
func validateRefs(name string, refs []ChunkRef) (int64, error) {
	var sum int64
	for i, c := range refs {
		if c.Number != i+1 {
			return 0, descErr("%s[%d].no: %d, want %d", name, i, c.Number, i+1)
		}
		if c.Size <= 0 || c.Size%SealedSegmentSize != 0 || c.Size > Size4M {
			return 0, descErr("%s[%d].size: %d is not a positive multiple of %d up to %d", name, i, c.Size, SealedSegmentSize, Size4M)
		}
		sum += c.Size
		if len(c.Replicas) == 0 {
			return 0, descErr("%s[%d].replicas: none", name, i)
		}
		for j, r := range c.Replicas {
			if err := r.validate(); err != nil {
				return 0, descErr("%s[%d].replicas[%d].%v", name, i, j, err)
			}
		}
	}
	return sum, nil
}

// validateParity checks Erasure and Parity against the chunks.
func (d *Description) validateParity() error {
	k, m := d.Erasure.Data, d.Erasure.Parity
	if k == 0 && m == 0 {
		if len(d.Parity) != 0 {
			return descErr("parity: %d chunks without erasure coding", len(d.Parity))
		}
		return nil
	}
	if k < 1 || m < 1 || k > MaxShards || m > MaxShards-k {
		return descErr("erasure: %d+%d, want at least 1 data and 1 parity shard, at most %d in all", k, m, MaxShards)
	}
	if len(d.Parity) > MaxChunks {
		return descErr("parity: %d, more than %d", len(d.Parity), MaxChunks)
	}
	stripes := (len(d.Chunks) + k - 1) / k
	if want := stripes * m; len(d.Parity) != want {
		return descErr("parity: %d chunks, want %d (%d stripes of %d+%d)", len(d.Parity), want, stripes, k, m)
	}
	if _, err := validateRefs("parity", d.Parity); err != nil {
		return err
	}
	for s := range stripes {
		var shard int64
		for _, c := range d.Chunks[s*k : min((s+1)*k, len(d.Chunks))] {
			shard = max(shard, c.Size)
		}
		for j := s * m; j < (s+1)*m; j++ {
			if d.Parity[j].Size != shard {
				return descErr("parity[%d].size: %d, want %d, the largest chunk of stripe %d", j, d.Parity[j].Size, shard, s)
			}
		}
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
	Version yamlInt      `yaml:"xftp_description"`
	Party   string       `yaml:"party"`
	Size    yamlInt      `yaml:"size"`
	Key     string       `yaml:"key"`
	Erasure *yamlErasure `yaml:"erasure,omitempty,flow"`
	Chunks  []yamlChunk  `yaml:"chunks"`
	Parity  []yamlChunk  `yaml:"parity,omitempty"`
}

type yamlErasure struct {
	Data   yamlInt `yaml:"data"`
	Parity yamlInt `yaml:"parity"`
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
		Chunks:  marshalRefs(d.Chunks),
	}
	if d.Erasure != (ErasureParams{}) {
		y.Erasure = &yamlErasure{Data: yamlInt(d.Erasure.Data), Parity: yamlInt(d.Erasure.Parity)}
		y.Parity = marshalRefs(d.Parity)
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

func marshalRefs(refs []ChunkRef) []yamlChunk {
	ys := make([]yamlChunk, len(refs))
	for i, c := range refs {
		yc := yamlChunk{No: yamlInt(c.Number), Size: yamlInt(c.Size), Digest: b64.EncodeToString(c.Digest[:]), Replicas: make([]yamlReplica, len(c.Replicas))}
		for j, r := range c.Replicas {
			yc.Replicas[j] = yamlReplica{Server: r.Server, ID: b64.EncodeToString(r.ID), Key: b64.EncodeToString(r.Key.Seed())}
		}
		ys[i] = yc
	}
	return ys
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
	// A text that is not a mapping would otherwise be refused with the
	// decoder's Go type names ("cannot unmarshal !!str into
	// chunk.yamlDescription").
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err == nil && len(root.Content) == 1 && root.Content[0].Kind != yaml.MappingNode && root.Content[0].Tag != "!!null" {
		return nil, descErr("not a file description (a description is a YAML mapping that starts with xftp_description)")
	}
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
	if d.Chunks, err = parseRefs("chunks", y.Chunks); err != nil {
		return nil, err
	}
	if e := y.Erasure; e != nil {
		// Zero is how a description says "no parity": by leaving the
		// field out, so that every description has one YAML form.
		if e.Data < 1 || e.Parity < 1 || e.Data > MaxShards || e.Parity > MaxShards {
			return nil, descErr("erasure: %d+%d, want at least 1 data and 1 parity shard, at most %d in all", e.Data, e.Parity, MaxShards)
		}
		d.Erasure = ErasureParams{Data: int(e.Data), Parity: int(e.Parity)}
	}
	if y.Parity != nil {
		if d.Parity, err = parseRefs("parity", y.Parity); err != nil {
			return nil, err
		}
		if len(d.Parity) == 0 {
			d.Parity = nil
		}
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return d, nil
}

// parseRefs decodes the chunk list called name; Validate checks the rest.
func parseRefs(name string, ys []yamlChunk) ([]ChunkRef, error) {
	if len(ys) > MaxChunks {
		return nil, descErr("%s: %d, more than %d", name, len(ys), MaxChunks)
	}
	refs := make([]ChunkRef, len(ys))
	for i, yc := range ys {
		if yc.No < 1 || yc.No > MaxChunks {
			return nil, descErr("%s[%d].no: %d, want %d", name, i, yc.No, i+1)
		}
		c := ChunkRef{Number: int(yc.No), Size: int64(yc.Size), Replicas: make([]Replica, len(yc.Replicas))}
		digest, err := decodeB64(yc.Digest)
		if err != nil || len(digest) != len(c.Digest) {
			return nil, descErr("%s[%d].digest: want %d bytes of unpadded base64url", name, i, len(c.Digest))
		}
		copy(c.Digest[:], digest)
		for j, yr := range yc.Replicas {
			r := Replica{Server: yr.Server}
			if r.ID, err = decodeB64(yr.ID); err != nil {
				return nil, descErr("%s[%d].replicas[%d].id: %v", name, i, j, err)
			}
			seed, err := decodeB64(yr.Key)
			if err != nil || len(seed) != ed25519.SeedSize {
				return nil, descErr("%s[%d].replicas[%d].key: want a %d-byte seed in unpadded base64url", name, i, j, ed25519.SeedSize)
			}
			r.Key = ed25519.NewKeyFromSeed(seed)
			c.Replicas[j] = r
		}
		refs[i] = c
	}
	return refs, nil
}
