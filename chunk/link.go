package chunk

import (
	"bytes"
	"compress/flate"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// LinkPrefix starts the link form of a description; the 1 is the
// description version.
const LinkPrefix = "xftp:file:1:"

// maxLinkPayload caps the decompressed size of a link, so that a small link
// cannot expand into a huge allocation.
const maxLinkPayload = 16 << 20

// maxLinkExpansion caps how much a link's payload may expand when
// decompressed (plus 4 KiB): a real one, mostly random bytes, expands by
// well under 2 (server addresses repeat; keys, IDs and digests do not).
const maxLinkExpansion = 8

// Link returns the compact form of d (after validating it): LinkPrefix
// followed by the unpadded base64url of the raw DEFLATE (RFC 1951)
// compression of this binary encoding, where uvarint is
// encoding/binary's unsigned varint:
//
//	byte      party: 1 recipient, 2 sender, 3 redirect
//	[32]byte  file key
//	uvarint   number of distinct servers S, then S times:
//	            uvarint length, the address bytes
//	uvarint   number of chunks N, then N times, in order:
//	            uvarint size
//	            [32]byte digest
//	            uvarint number of replicas R, then R times:
//	              uvarint server index (0-based, into the servers above)
//	              uvarint ID length, the ID bytes
//	              [32]byte key seed
//	only for a file with parity (Erasure not zero), after the chunks:
//	uvarint   data shards K (1..MaxShards)
//	uvarint   parity shards M (1..MaxShards-K)
//	uvarint   number of parity chunks P, then P times, in order,
//	            a chunk as above
//
// Chunk numbers and the total size are implied. Each server appears once,
// in order of first use (chunks first, then parity chunks), and every
// server is used. A decoded payload may be at most 16 MiB.
//
// The parity part was added without changing the version: a link without
// it is exactly what it was before, and an older reader rejects a link with
// it ("bytes after the last chunk") rather than misreading it.
func (d *Description) Link() (string, error) {
	if err := d.Validate(); err != nil {
		return "", err
	}
	var servers []string
	index := map[string]uint64{}
	for _, c := range append(d.Chunks[:len(d.Chunks):len(d.Chunks)], d.Parity...) {
		for _, r := range c.Replicas {
			if _, ok := index[r.Server]; !ok {
				index[r.Server] = uint64(len(servers))
				servers = append(servers, r.Server)
			}
		}
	}
	var p []byte
	switch d.Party {
	case PartyRecipient:
		p = append(p, 1)
	case PartyRedirect:
		p = append(p, 3)
	default:
		p = append(p, 2)
	}
	p = append(p, d.Key...)
	p = binary.AppendUvarint(p, uint64(len(servers)))
	for _, s := range servers {
		p = binary.AppendUvarint(p, uint64(len(s)))
		p = append(p, s...)
	}
	appendRefs := func(refs []ChunkRef) {
		p = binary.AppendUvarint(p, uint64(len(refs)))
		for _, c := range refs {
			p = binary.AppendUvarint(p, uint64(c.Size))
			p = append(p, c.Digest[:]...)
			p = binary.AppendUvarint(p, uint64(len(c.Replicas)))
			for _, r := range c.Replicas {
				p = binary.AppendUvarint(p, index[r.Server])
				p = binary.AppendUvarint(p, uint64(len(r.ID)))
				p = append(p, r.ID...)
				p = append(p, r.Key.Seed()...)
			}
		}
	}
	appendRefs(d.Chunks)
	if d.Erasure != (ErasureParams{}) {
		p = binary.AppendUvarint(p, uint64(d.Erasure.Data))
		p = binary.AppendUvarint(p, uint64(d.Erasure.Parity))
		appendRefs(d.Parity)
	}
	if len(p) > maxLinkPayload {
		return "", fmt.Errorf("%w: too large for a link (%d bytes encoded)", ErrDescription, len(p))
	}
	var z bytes.Buffer
	w, err := flate.NewWriter(&z, flate.BestCompression)
	if err != nil {
		return "", err
	}
	if _, err := w.Write(p); err != nil {
		return "", err
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	return LinkPrefix + b64.EncodeToString(z.Bytes()), nil
}

func parseLink(s string) (*Description, error) {
	z, err := decodeB64(s[len(LinkPrefix):])
	if err != nil {
		return nil, descErr("link: %v", err)
	}
	zr := bytes.NewReader(z)
	fr := flate.NewReader(zr)
	// Keys, IDs and digests are random: a real link compresses little.
	// Bound the payload by the link's own length before decoding it, so
	// that the work (a key derivation per replica) is proportional to
	// what was given (a 7 KB link expanding 2,000-fold took 6.7 s).
	limit := min(maxLinkPayload, maxLinkExpansion*len(z)+4096)
	p, err := io.ReadAll(io.LimitReader(fr, int64(limit)+1))
	if err != nil {
		return nil, descErr("link: %v", err)
	}
	if len(p) > limit {
		return nil, descErr("link: decompresses to more than %d bytes (%d times its compressed size)", limit, maxLinkExpansion)
	}
	if zr.Len() != 0 {
		return nil, descErr("link: data after the compressed stream")
	}
	d, err := decodeLink(p)
	if err != nil {
		return nil, descErr("link: %v", err)
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return d, nil
}

// linkDecoder reads the binary link encoding; the first error sticks.
type linkDecoder struct {
	p   []byte
	err error
}

func (r *linkDecoder) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.p = nil
}

func (r *linkDecoder) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.p) {
		r.fail(io.ErrUnexpectedEOF)
		return nil
	}
	b := bytes.Clone(r.p[:n])
	r.p = r.p[n:]
	return b
}

func (r *linkDecoder) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.p)
	if n <= 0 {
		r.fail(errors.New("bad varint"))
		return 0
	}
	r.p = r.p[n:]
	return v
}

// count reads a uvarint that counts items of at least minSize bytes each,
// so that it cannot exceed what the rest of the input can hold.
func (r *linkDecoder) count(minSize int) int {
	v := r.uvarint()
	if r.err == nil && v > uint64(len(r.p)/minSize) {
		r.fail(fmt.Errorf("count %d exceeds the input", v))
	}
	if r.err != nil {
		return 0
	}
	return int(v)
}

func decodeLink(p []byte) (*Description, error) {
	r := &linkDecoder{p: p}
	d := &Description{Version: DescriptionVersion}
	switch party := r.bytes(1); {
	case party == nil:
	case party[0] == 1:
		d.Party = PartyRecipient
	case party[0] == 2:
		d.Party = PartySender
	case party[0] == 3:
		d.Party = PartyRedirect
	default:
		return nil, fmt.Errorf("party: unknown value %d", party[0])
	}
	d.Key = r.bytes(KeySize)
	servers := make([]string, r.count(1))
	seen := make(map[string]bool, len(servers))
	for i := range servers {
		servers[i] = string(r.bytes(r.count(1)))
		if seen[servers[i]] {
			return nil, fmt.Errorf("server %q listed twice", servers[i])
		}
		seen[servers[i]] = true
	}
	next := 0 // servers are listed in order of first use
	// A chunk takes at least 1 (size) + 32 (digest) + 1 (replicas) bytes,
	// a replica at least 1 (server) + 1 (ID length) + 32 (seed) bytes.
	refs := func(name string) ([]ChunkRef, error) {
		cs := make([]ChunkRef, r.count(34))
		for i := range cs {
			c := ChunkRef{Number: i + 1, Size: int64(r.uvarint())}
			copy(c.Digest[:], r.bytes(len(c.Digest)))
			c.Replicas = make([]Replica, r.count(34))
			for j := range c.Replicas {
				k := r.uvarint()
				id := r.bytes(r.count(1))
				seed := r.bytes(ed25519.SeedSize)
				if r.err != nil {
					return nil, r.err
				}
				if k > uint64(next) || k >= uint64(len(servers)) {
					return nil, fmt.Errorf("%s %d: server index %d out of order or range", name, i+1, k)
				}
				if k == uint64(next) {
					next++
				}
				c.Replicas[j] = Replica{Server: servers[k], ID: id, Key: ed25519.NewKeyFromSeed(seed)}
			}
			cs[i] = c
		}
		return cs, r.err
	}
	var err error
	if d.Chunks, err = refs("chunk"); err != nil {
		return nil, err
	}
	if len(r.p) != 0 {
		k, m := r.uvarint(), r.uvarint()
		if r.err != nil {
			return nil, r.err
		}
		if k < 1 || m < 1 || k > MaxShards || m > MaxShards {
			return nil, fmt.Errorf("erasure: %d+%d, want at least 1 data and 1 parity shard, at most %d in all", k, m, MaxShards)
		}
		d.Erasure = ErasureParams{Data: int(k), Parity: int(m)}
		if d.Parity, err = refs("parity chunk"); err != nil {
			return nil, err
		}
	}
	if len(r.p) != 0 {
		return nil, fmt.Errorf("%d bytes after the last chunk", len(r.p))
	}
	if next != len(servers) {
		return nil, errors.New("a server is listed but not used")
	}
	for _, c := range d.Chunks {
		d.Size += c.Size
	}
	return d, nil
}
