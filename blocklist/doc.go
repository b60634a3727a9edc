// Package blocklist holds blocking records and the stores that keep them.
//
// When an operator takes a chunk down, the server answers later requests
// for it with a blocking record signed by its identity key (see
// package identity). The record names the server, the chunk ID the client
// used, why the chunk was blocked and what the client should stop doing
// (Restriction). Clients check the record with Verify against the
// fingerprint they pinned and the ID they asked about, so a relay or proxy
// cannot replay a record from another server or for another chunk.
//
// # Canonical bytes
//
// A record is signed over its canonical bytes, a deterministic binary
// encoding; all integers are big-endian:
//
//	context       24 bytes  "xftp blocking record v1\x00"
//	version        1 byte   1
//	server        32 bytes  identity.Fingerprint of the signing key
//	blocked_at     8 bytes  uint64, Unix seconds (UTC, second precision)
//	ttl            8 bytes  uint64, seconds; 0 = restrictions never expire
//	chunk_id       uint16 length (0..255) || bytes
//	reason         uint16 length (1..32)  || bytes, [a-z0-9_-]
//	notice         uint16 length (0..1024) || valid UTF-8
//	restrictions   uint16 count (0..16), then per restriction
//	               uint16 length (1..32) || bytes, [a-z0-9_-];
//	               strictly ascending byte order (sorted, no duplicates)
//	appeal_code    uint16 length (0 or 16) || bytes
//
// The context string keeps identity-key signatures made for other purposes
// (TLS, identity challenges) from ever being read as blocking records: no
// other signed message starts with it. Every value has exactly one
// encoding, and Parse rejects anything else (unknown version, bad lengths,
// unsorted restrictions, invalid UTF-8, trailing bytes), so parsing and
// marshalling a record returns the same bytes.
//
// # Wire form
//
// SignedRecord.Marshal returns
//
//	canonical bytes || Ed25519 public key (32 bytes) || signature (64 bytes)
//
// The signature covers the canonical bytes only. The public key travels
// with the record so that a client can check it against the pinned
// fingerprint without another request.
//
// # Stores
//
// Store keeps the entries of blocked chunks behind one interface; its
// backends live with the other stores, in storage/embedded (bbolt) and
// storage/redis, and this package has no database code (it builds for
// WebAssembly). Stores keep entries in the canonical stored form
// (MarshalEntry) under the key's hash (Key.Hash). A
// chunk is blocked under several keys: its sender ID, each recipient ID and
// its digest. The server signs one record per ID, naming that ID, because
// a record names only the ID the client used. The digest entry holds a
// record with an empty ChunkID: it is a template that catches re-uploads of
// the same content under new IDs, and Verify never accepts it; the server
// copies its fields into a fresh record for the ID of the request and signs
// that. Package blocklisttest holds the contract suite every backend runs.
package blocklist
