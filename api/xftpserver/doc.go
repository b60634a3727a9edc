// Package xftpserver is xftpd's second protocol binding: SimpleX's XFTP
// (versions 1 to 3) over the same relay service (package server) as the
// native HTTP binding, so SimpleX's apps, its CLI and its web page upload
// and download through xftpd unchanged.
//
// Both XFTP transports share xftpd's TLS listener:
//   - native clients offer ALPN "xftp/1"; they get TLS 1.2 with
//     ECDHE-ECDSA-CHACHA20-POLY1305, the chain [online leaf, XFTP CA], and
//     the TLS-unique value as the session ID, which their signatures bind;
//   - web clients (xftp-web in a browser or Node) speak HTTP/2 over the
//     listener's ordinary TLS 1.3 and POST to "/", with the web handshake
//     proving the XFTP identity inside.
//
// The XFTP identity is a CA certificate whose SHA-256 is the address's key
// hash. Its key is derived from the relay's identity key, and its
// certificate is kept in a file (Credentials), so a restart or another
// replica presents the same address.
//
// See docs/XFTP.md for operators and ../../api/xftp for the wire.
package xftpserver
