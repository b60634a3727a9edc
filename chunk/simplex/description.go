package simplex

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Party says whose description it is.
type Party string

// The parties of a file.
const (
	Recipient Party = "recipient" // may download (FGET) and acknowledge (FACK)
	Sender    Party = "sender"    // may delete (FDEL)
)

// Description is a SimpleX file description: what a party needs to fetch
// or delete one encrypted file.
type Description struct {
	Party Party
	// Size is the size of the encrypted file, the sum of its chunk sizes.
	Size int64
	// Digest is the SHA-512 digest of the encrypted file.
	Digest []byte
	Key    Key
	Nonce  Nonce
	// ChunkSize is the default chunk size: chunks of another size say so.
	ChunkSize int64
	Chunks    []Chunk
	// Redirect is set when this description's file is itself the YAML
	// description of the real file, which has this size and digest.
	Redirect *Redirect
}

// Redirect names the file a redirect description leads to.
type Redirect struct {
	Size   int64  // encrypted size of the real file
	Digest []byte // its SHA-512 digest
}

// Chunk is one chunk of the encrypted file.
type Chunk struct {
	No       int    // 1-based
	Size     int64  // one of ChunkSizes
	Digest   []byte // SHA-256 of the chunk's bytes
	Replicas []Replica
}

// Replica is one copy of a chunk on a server: its ID there and the
// Ed25519 key that authorizes the party's commands on it.
type Replica struct {
	Server Server
	ID     []byte
	Key    ed25519.PrivateKey
}

// Limits on what Parse accepts, checked before anything is decoded.
const (
	// MaxDescriptionSize bounds the YAML text of a description.
	MaxDescriptionSize = 1 << 20
	// MaxReplicas bounds the replica lines of a description, over all
	// chunks and servers.
	MaxReplicas = 4 * MaxChunks
	// maxIDLen bounds a replica ID (it travels as a 1-byte length).
	maxIDLen = 255
)

// Redirect sizes: a redirect description points at a file that is a
// description, which fits in one chunk.
const maxRedirectSize = MaxFileSizeHard

var (
	// pkcs8Ed25519 prefixes a 32-byte seed to make an Ed25519 PKCS #8 key.
	pkcs8Ed25519 = []byte{0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20}
)

// ErrDescription wraps every error Parse returns for a malformed
// description.
var ErrDescription = errors.New("invalid SimpleX file description")

func descErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrDescription, fmt.Sprintf(format, args...))
}

// encodeKey returns the PKCS #8 DER of an Ed25519 key, as SimpleX writes it.
func encodeKey(k ed25519.PrivateKey) []byte {
	return append(slices.Clone(pkcs8Ed25519), k.Seed()...)
}

func decodeKey(der []byte) (ed25519.PrivateKey, error) {
	if len(der) != len(pkcs8Ed25519)+ed25519.SeedSize || !bytes.Equal(der[:len(pkcs8Ed25519)], pkcs8Ed25519) {
		return nil, errors.New("replica key is not an Ed25519 private key (PKCS #8)")
	}
	return ed25519.NewKeyFromSeed(der[len(pkcs8Ed25519):]), nil
}

// decodeB64 decodes base64url, padded or not, strictly (no stray bits).
func decodeB64(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("empty base64")
	}
	if strings.HasSuffix(s, "=") {
		return base64.URLEncoding.Strict().DecodeString(s)
	}
	return base64.RawURLEncoding.Strict().DecodeString(s)
}

func b64(b []byte) string { return base64.URLEncoding.EncodeToString(b) }

// FormatSize writes a size as SimpleX does: in gb, mb or kb when it is a
// whole number of them, else in bytes.
func FormatSize(n int64) string {
	switch {
	case n != 0 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "gb"
	case n != 0 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "mb"
	case n != 0 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "kb"
	}
	return strconv.FormatInt(n, 10)
}

// ParseSize reads a size written by FormatSize (digits, then optionally
// kb, mb or gb), refusing anything above limit.
func ParseSize(s string, limit int64) (int64, error) {
	num, mult := s, int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = n, u.mult
			break
		}
	}
	if num == "" || len(num) > 19 || strings.Trim(num, "0123456789") != "" {
		return 0, fmt.Errorf("size %q is not a number of bytes, kb, mb or gb", s)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > limit/mult {
		return 0, fmt.Errorf("size %q is too large (at most %d bytes)", s, limit)
	}
	return n * mult, nil
}

// Validate checks what SimpleX checks (chunk numbers 1..n in order, chunk
// sizes adding up to Size) and more: key, digest and ID lengths, chunk
// sizes servers accept, at least one chunk and one replica per chunk, and
// the size limits.
func (d *Description) Validate() error {
	if d.Party != Recipient && d.Party != Sender {
		return descErr("party is %q, not recipient or sender", d.Party)
	}
	if len(d.Digest) != sha512.Size {
		return descErr("file digest is %d bytes, not %d", len(d.Digest), sha512.Size)
	}
	if !validChunkSize(d.ChunkSize) {
		return descErr("chunk size %s is not one servers accept", FormatSize(d.ChunkSize))
	}
	if len(d.Chunks) == 0 {
		return descErr("no chunks")
	}
	if len(d.Chunks) > MaxChunks {
		return descErr("%d chunks, at most %d allowed", len(d.Chunks), MaxChunks)
	}
	var total int64
	for i, c := range d.Chunks {
		if c.No != i+1 {
			return descErr("chunk numbers are not sequential")
		}
		if !validChunkSize(c.Size) {
			return descErr("chunk %d: size %s is not one servers accept", c.No, FormatSize(c.Size))
		}
		if len(c.Digest) != sha256.Size {
			return descErr("chunk %d: digest is %d bytes, not %d", c.No, len(c.Digest), sha256.Size)
		}
		if len(c.Replicas) == 0 {
			return descErr("chunk %d has no replicas", c.No)
		}
		for _, r := range c.Replicas {
			if len(r.ID) == 0 || len(r.ID) > maxIDLen {
				return descErr("chunk %d: replica ID is %d bytes, not 1..%d", c.No, len(r.ID), maxIDLen)
			}
			if len(r.Key) != ed25519.PrivateKeySize {
				return descErr("chunk %d: replica key is not an Ed25519 key", c.No)
			}
			if len(r.Server.Hosts) == 0 {
				return descErr("chunk %d: replica has no server", c.No)
			}
		}
		total += c.Size
	}
	if total != d.Size {
		return descErr("chunks total size is different than file size")
	}
	if d.Redirect != nil {
		if len(d.Redirect.Digest) != sha512.Size {
			return descErr("redirect digest is %d bytes, not %d", len(d.Redirect.Digest), sha512.Size)
		}
		if d.Redirect.Size <= 0 || d.Redirect.Size > maxRedirectSize {
			return descErr("redirect size %d is out of range", d.Redirect.Size)
		}
	}
	return nil
}

// Marshal returns the description as YAML, byte for byte as SimpleX's
// clients write it.
func (d *Description) Marshal() ([]byte, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	line := func(prefix, v string) {
		b.WriteString(prefix)
		b.WriteString(yamlScalar(v))
		b.WriteByte('\n')
	}
	line("chunkSize: ", FormatSize(d.ChunkSize))
	line("digest: ", b64(d.Digest))
	line("key: ", b64(d.Key[:]))
	line("nonce: ", b64(d.Nonce[:]))
	line("party: ", string(d.Party))
	if d.Redirect != nil {
		b.WriteString("redirect:\n")
		line("  digest: ", b64(d.Redirect.Digest))
		b.WriteString("  size: " + strconv.FormatInt(d.Redirect.Size, 10) + "\n")
	}
	b.WriteString("replicas:\n")
	for _, g := range groupReplicas(d.ChunkSize, d.Chunks) {
		b.WriteString("- chunks:\n")
		for _, r := range g.lines {
			line("  - ", r)
		}
		line("  server: ", g.server.String())
	}
	line("size: ", FormatSize(d.Size))
	return b.Bytes(), nil
}

type serverReplicas struct {
	server Server
	lines  []string
}

// groupReplicas lists replicas per server, servers in SimpleX's order; the
// first replica of a chunk carries its digest and, when it differs from
// the default, its size.
func groupReplicas(defSize int64, chunks []Chunk) []serverReplicas {
	type flat struct {
		server Server
		line   string
	}
	var all []flat
	for _, c := range chunks {
		for i, r := range c.Replicas {
			s := strconv.Itoa(c.No) + ":" + b64(r.ID) + ":" + b64(encodeKey(r.Key))
			if i == 0 {
				s += ":" + b64(c.Digest)
				if c.Size != defSize {
					s += ":" + FormatSize(c.Size)
				}
			}
			all = append(all, flat{r.Server, s})
		}
	}
	slices.SortStableFunc(all, func(a, b flat) int { return compareServers(a.server, b.server) })
	var groups []serverReplicas
	for _, f := range all {
		if n := len(groups); n > 0 && compareServers(groups[n-1].server, f.server) == 0 {
			groups[n-1].lines = append(groups[n-1].lines, f.line)
			continue
		}
		groups = append(groups, serverReplicas{f.server, []string{f.line}})
	}
	return groups
}

// Parse reads a description in YAML, as SimpleX's clients write it (any
// YAML that means the same is accepted, as SimpleX's own parser does), and
// validates it. Unknown fields are ignored for forward compatibility.
func Parse(text []byte) (*Description, error) {
	if len(text) > MaxDescriptionSize {
		return nil, descErr("%d bytes, at most %d allowed", len(text), MaxDescriptionSize)
	}
	if n := bytes.Count(text, []byte{'\n'}); n > MaxReplicas+64 {
		return nil, descErr("%d lines, too many for %d replicas", n, MaxReplicas)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return nil, descErr("not YAML: %v", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, descErr("empty")
	}
	if err := noAliases(&doc, 0); err != nil {
		return nil, err
	}
	top, err := mapping(doc.Content[0], "description")
	if err != nil {
		return nil, err
	}
	d := &Description{}
	str := func(key string) (string, error) {
		n, ok := top[key]
		if !ok {
			return "", descErr("no %s", key)
		}
		return scalar(n, key)
	}
	party, err := str("party")
	if err != nil {
		return nil, err
	}
	d.Party = Party(party)
	if d.Party != Recipient && d.Party != Sender {
		return nil, descErr("party is %q, not recipient or sender", party)
	}
	s, err := str("size")
	if err != nil {
		return nil, err
	}
	if d.Size, err = ParseSize(s, int64(MaxFileSizeHard)+Size4M); err != nil {
		return nil, descErr("size: %v", err)
	}
	if s, err = str("chunkSize"); err != nil {
		return nil, err
	}
	if d.ChunkSize, err = ParseSize(s, Size4M); err != nil {
		return nil, descErr("chunkSize: %v", err)
	}
	if d.Digest, err = b64Field(str, "digest", sha512.Size); err != nil {
		return nil, err
	}
	k, err := b64Field(str, "key", KeySize)
	if err != nil {
		return nil, err
	}
	copy(d.Key[:], k)
	n, err := b64Field(str, "nonce", NonceSize)
	if err != nil {
		return nil, err
	}
	copy(d.Nonce[:], n)
	if rn, ok := top["redirect"]; ok && !isNull(rn) {
		if d.Redirect, err = parseRedirect(rn); err != nil {
			return nil, err
		}
	}
	rn, ok := top["replicas"]
	if !ok {
		return nil, descErr("no replicas")
	}
	if d.Chunks, err = parseReplicas(rn, d.ChunkSize); err != nil {
		return nil, err
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return d, nil
}

func b64Field(str func(string) (string, error), key string, size int) ([]byte, error) {
	s, err := str(key)
	if err != nil {
		return nil, err
	}
	if len(s) > (size+2)/3*4 {
		return nil, descErr("%s is too long", key)
	}
	b, err := decodeB64(s)
	if err != nil || len(b) != size {
		return nil, descErr("%s is not %d bytes of base64url", key, size)
	}
	return b, nil
}

func noAliases(n *yaml.Node, depth int) error {
	if depth > 8 {
		return descErr("nested too deeply")
	}
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return descErr("YAML anchors and aliases are not allowed")
	}
	for _, c := range n.Content {
		if err := noAliases(c, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func mapping(n *yaml.Node, what string) (map[string]*yaml.Node, error) {
	if n.Kind != yaml.MappingNode {
		return nil, descErr("%s is not a mapping", what)
	}
	m := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode {
			return nil, descErr("%s has a key that is not a string", what)
		}
		if _, dup := m[k.Value]; dup {
			return nil, descErr("%s has %q twice", what, k.Value)
		}
		m[k.Value] = n.Content[i+1]
	}
	return m, nil
}

func scalar(n *yaml.Node, what string) (string, error) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		return "", descErr("%s is not a string", what)
	}
	return n.Value, nil
}

func parseRedirect(n *yaml.Node) (*Redirect, error) {
	m, err := mapping(n, "redirect")
	if err != nil {
		return nil, err
	}
	r := &Redirect{}
	sn, ok := m["size"]
	if !ok {
		return nil, descErr("redirect has no size")
	}
	s, err := scalar(sn, "redirect size")
	if err != nil {
		return nil, err
	}
	if sn.Tag != "!!int" {
		return nil, descErr("redirect size %q is not a number", s)
	}
	if r.Size, err = ParseSize(s, maxRedirectSize); err != nil {
		return nil, descErr("redirect size: %v", err)
	}
	str := func(key string) (string, error) {
		n, ok := m[key]
		if !ok {
			return "", descErr("redirect has no %s", key)
		}
		return scalar(n, "redirect "+key)
	}
	if r.Digest, err = b64Field(str, "digest", sha512.Size); err != nil {
		return nil, err
	}
	return r, nil
}

// parseReplicas reads the replicas list and folds it into chunks, as
// SimpleX does: every chunk needs a digest on one of its replicas, and
// replicas that repeat a digest or size must agree.
func parseReplicas(n *yaml.Node, defSize int64) ([]Chunk, error) {
	if n.Kind != yaml.SequenceNode {
		if isNull(n) {
			return nil, descErr("no chunks")
		}
		return nil, descErr("replicas is not a list")
	}
	// Count the replica lines before decoding any of them.
	total := 0
	for _, g := range n.Content {
		if g.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(g.Content); i += 2 {
				if g.Content[i].Value == "chunks" {
					total += len(g.Content[i+1].Content)
				}
			}
		}
	}
	if total > MaxReplicas {
		return nil, descErr("%d replicas, at most %d allowed", total, MaxReplicas)
	}
	var parts []replicaLine
	maxNo := 0
	for _, g := range n.Content {
		m, err := mapping(g, "a replicas entry")
		if err != nil {
			return nil, err
		}
		sn, ok := m["server"]
		if !ok {
			return nil, descErr("a replicas entry has no server")
		}
		ss, err := scalar(sn, "server")
		if err != nil {
			return nil, err
		}
		srv, err := ParseServer(ss)
		if err != nil {
			return nil, descErr("%v", err)
		}
		cn, ok := m["chunks"]
		if !ok || cn.Kind != yaml.SequenceNode {
			return nil, descErr("a replicas entry has no chunks list")
		}
		for _, c := range cn.Content {
			s, err := scalar(c, "a chunk replica")
			if err != nil {
				return nil, err
			}
			p, err := parseReplicaLine(s, defSize)
			if err != nil {
				return nil, err
			}
			if p.no < 1 || p.no > MaxChunks {
				return nil, descErr("chunk number %d is out of range", p.no)
			}
			maxNo = max(maxNo, p.no)
			p.replica.Server = srv
			parts = append(parts, p)
		}
	}
	chunks := make([]Chunk, maxNo)
	primary := make([]int, maxNo) // index in Replicas of the first line with the digest, +1
	for _, p := range parts {
		c := &chunks[p.no-1]
		c.No = p.no
		if p.digest != nil {
			if c.Digest != nil && !bytes.Equal(c.Digest, p.digest) {
				return nil, descErr("different size or digest in chunk replicas")
			}
			c.Digest = p.digest
			if primary[p.no-1] == 0 {
				primary[p.no-1] = len(c.Replicas) + 1
			}
		}
		if p.size != 0 {
			if c.Size != 0 && c.Size != p.size {
				return nil, descErr("different size or digest in chunk replicas")
			}
			c.Size = p.size
		}
		c.Replicas = append(c.Replicas, p.replica)
	}
	for i := range chunks {
		c := &chunks[i]
		if c.No == 0 {
			return nil, descErr("chunk numbers are not sequential")
		}
		if c.Digest == nil {
			return nil, descErr("no digest for chunk %d", c.No)
		}
		if c.Size == 0 {
			c.Size = defSize
		}
		c.Replicas = replicaOrder(c.Replicas, primary[i]-1)
	}
	return chunks, nil
}

// replicaOrder puts a chunk's replicas in the order Marshal implies: the
// replica whose line carries the digest first (Marshal writes the digest
// on the first replica), then the others by server (Marshal groups lines
// by server, so their order across servers does not survive it). Parsing
// what Marshal wrote then gives back the same description.
func replicaOrder(rs []Replica, first int) []Replica {
	out := make([]Replica, 0, len(rs))
	out = append(out, rs[first])
	out = append(out, rs[:first]...)
	out = append(out, rs[first+1:]...)
	slices.SortStableFunc(out[1:], func(a, b Replica) int { return compareServers(a.Server, b.Server) })
	return out
}

type replicaLine struct {
	no      int
	replica Replica
	digest  []byte
	size    int64
}

// parseReplicaLine reads chunkNo:replicaId:replicaKey[:digest[:chunkSize]].
func parseReplicaLine(s string, defSize int64) (replicaLine, error) {
	var p replicaLine
	if len(s) > 512 {
		return p, descErr("chunk replica is %d bytes, too long", len(s))
	}
	f := strings.Split(s, ":")
	if len(f) < 3 || len(f) > 5 {
		return p, descErr("chunk replica %q is not chunkNo:replicaId:replicaKey[:digest[:chunkSize]]", s)
	}
	no, err := strconv.Atoi(f[0])
	if err != nil || f[0] == "" || strings.Trim(f[0], "0123456789") != "" {
		return p, descErr("chunk replica %q: bad chunk number", s)
	}
	p.no = no
	if p.replica.ID, err = decodeB64(f[1]); err != nil || len(p.replica.ID) > maxIDLen {
		return p, descErr("chunk %d: replica ID is not base64url of 1..%d bytes", no, maxIDLen)
	}
	der, err := decodeB64(f[2])
	if err != nil {
		return p, descErr("chunk %d: replica key is not base64url", no)
	}
	if p.replica.Key, err = decodeKey(der); err != nil {
		return p, descErr("chunk %d: %v", no, err)
	}
	if len(f) >= 4 {
		if p.digest, err = decodeB64(f[3]); err != nil || len(p.digest) != sha256.Size {
			return p, descErr("chunk %d: digest is not %d bytes of base64url", no, sha256.Size)
		}
	}
	if len(f) == 5 {
		if p.size, err = ParseSize(f[4], Size4M); err != nil || p.size == 0 {
			return p, descErr("chunk %d: bad chunk size %q", no, f[4])
		}
	}
	return p, nil
}
