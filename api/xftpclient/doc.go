// Package xftpclient is a Go client of SimpleX's XFTP protocol: it dials
// any XFTP server (xftpd or SimpleX's own), checks its identity as
// SimpleX's native clients do, and runs the protocol's commands, one
// connection per session.
//
// By default it behaves as SimpleX's native (Haskell) client: ALPN
// "xftp/1", no SNI, the certificate chain exactly [leaf, CA] with
// SHA-256(CA) equal to the address's key hash and the leaf signed by the
// CA, the session ID equal to TLS's tls-unique, and the handshake's DH key
// signed by the TLS leaf. With Options.Web it uses the web transport
// instead (ALPN h2 and the web handshake's identity proof), as SimpleX's
// browser page does, and checks the leaf's CA signature that xftp-web omits.
//
// It links no server-side code (see cmd/xftp's dependency test).
package xftpclient
