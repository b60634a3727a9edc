// Package chunk is the client's data pipeline for one file: it encrypts the
// file, pads it, cuts it into chunks of the sizes the servers accept, and
// describes the result in a file description. It does no networking and no
// storage; callers move the chunks.
//
// # Encrypted stream
//
// A file is sent as one virtual plaintext stream
//
//	header (HeaderSize = 512 bytes) || file bytes || zero padding
//
// The header is
//
//	byte  0       format version, 1
//	bytes 1..8    file size, big-endian uint64
//	bytes 9..10   name length n, big-endian uint16, 1..255
//	bytes 11..    the name: UTF-8, no '/', '\\' or NUL, not "." or ".."
//	rest          zeros (a reader rejects anything else)
//
// The stream is sealed with package internal/stream (STREAM over
// AES-256-GCM) under a fresh random 32-byte file key, in segments of
// SegmentSize = 65520 plaintext bytes, each sealed to SealedSegmentSize =
// 65536 bytes. Segment i uses counter i; the final segment of the file has
// the "last" flag. Every segment is full: the padding fills the last one.
//
// # Padding and chunks
//
// Let s = ceil((HeaderSize + file size) / SegmentSize) be the number of
// segments the data needs. The chunk sizes are Plan(s * SealedSegmentSize);
// their sum T is a multiple of SealedSegmentSize, so the stream has exactly
// T / SealedSegmentSize segments and the zero padding fills their plaintext
// capacity. Chunk j holds the whole sealed segments that start at byte
// offset sum(sizes[:j]) of the ciphertext. A server sees only whole chunks
// of a few fixed sizes; the file size, name and the padding are hidden.
//
// Sealing is deterministic for a fixed key, so a Sealer can compute all
// chunk digests in one pass and later regenerate any chunk for upload,
// retry or resume without temporary files. An Opener checks and opens
// chunks independently, in any order and concurrently.
//
// # Erasure coding
//
// A file may be spread over servers with Reed-Solomon parity
// (github.com/klauspost/reedsolomon, GF(2^8)), so that it survives the
// loss of some chunks. With K data and M parity shards (Erasure), the
// chunks in file order are cut into stripes of K consecutive chunks; the
// last stripe may have fewer, and its missing data shards are virtual
// all-zero shards that are never stored. A stripe's shard size is its
// largest chunk size; smaller chunks are zero-extended for coding only and
// keep their own size when stored. Each stripe gets M parity chunks of
// exactly the shard size, itself a chunk size servers accept, so a server
// cannot tell parity from data. Any K of a stripe's data and parity chunks
// rebuild its missing data chunks, which are then checked against their
// digests and opened like any other. Coding streams in 64 KiB blocks:
// encoding or rebuilding a stripe holds (K+M) × 64 KiB of buffers, not
// its chunks.
//
// XFTP pads the number of recipient IDs so that a server cannot count a
// file's audience; PaddedRecipients gives the padded count.
//
// # File description
//
// A Description lists the file key and, for every chunk, its size, its
// SHA-256 digest and the servers holding a replica with the ID and key that
// authorize access to it, and for a file with parity, the scheme and the
// parity chunks in the same form. It has a YAML form (Marshal) and a
// compact link form (Link); Parse accepts both.
package chunk
