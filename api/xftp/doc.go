// Package xftp is SimpleX's XFTP protocol (versions 1 to 3) on the wire:
// the binary encodings, the 16384-byte padded blocks, transmissions,
// commands and responses, error types, the two handshakes (standard and
// web), the signed Diffie-Hellman key, the download cipher and the server
// address. It is the vocabulary both sides share: xftpd's XFTP binding
// (api/xftpserver) and the Go client (api/xftpclient) import it; it imports
// nothing server-side and does no I/O beyond the readers it is given.
//
// It is written from the protocol as SimpleX's reference implementation
// (simplexmq 6.5.5.0) and its TypeScript client put it on the wire; see
// docs/XFTP.md. No SimpleX code is used. Golden vectors under testdata/
// were produced by SimpleX's own TypeScript client (testdata/gen).
package xftp
