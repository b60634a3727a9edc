// Package simplex is SimpleX's file format, for the xftp client to send and
// receive files through XFTP servers as SimpleX Chat and its web page do.
// It is written from the protocol (simplexmq tag 6.5.5.0) and checked
// against vectors made by SimpleX's own TypeScript client (testdata/gen);
// no SimpleX code is copied. Like package chunk it does no networking and
// no storage.
//
// # Encrypted file
//
// A file is sent as
//
//	XSalsa20(len || header || file || '#' × padding) || Poly1305 tag
//
// with a fresh random 32-byte key and 24-byte nonce. len is the big-endian
// int64 size of header and file; the header is the file name (1-byte
// length, at most 255 bytes of UTF-8) and an optional extra field. The
// cipher is NaCl's secretbox under the key HSalsa20(key, 0^16), run over the
// whole file with the tag at the end (Sealer, Decrypt stream it). The
// padding fills the chunk plan (PlanChunks) of the payload
// len + header + file + tag; the encrypted file's SHA-512 is its digest and
// each chunk's SHA-256 its chunk digest.
//
// # Description and links
//
// A Description (YAML, Parse and Marshal, byte-exact with SimpleX's
// clients) holds the key, nonce, sizes, digests and, per chunk, the
// replicas: server, ID and the Ed25519 key of the party (recipient or
// sender). A recipient description travels as a link: the app's
// simplex:/file#/?desc=<URL-encoded YAML> (URI) or the web page's
// https://host/#<base64url raw-DEFLATE YAML> (WebLink); ParseLink reads
// both. A description too long for a link is itself uploaded as a file and
// linked through a short redirect description (Redirect).
//
// Parsing is strict and bounded: text, link and replica counts are checked
// before anything is decoded; keys, digests and IDs must have their exact
// sizes; chunk sizes must be ones servers accept.
package simplex
