// Package reqauth is the canonical message a client signs for each request
// (docs/PROTOCOL.md, "Request signing"). It imports nothing but the
// standard library and package identity, so that both the api package and
// the browser page's WebAssembly module (which cannot import api's server
// dependencies) sign exactly the same bytes.
package reqauth

import (
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/xftp/xftp/identity"
)

// NonceSize is the size of a request nonce (server.NonceSize).
const NonceSize = 16

// Message is the canonical request that a client signs:
//
//	xftp request v1\n
//	<server fingerprint>\n
//	<method>\n
//	<path>\n
//	<timestamp>\n
//	<nonce>\n
//	<body hash or "-">
//
// Naming the server stops a request signed for one server from being
// accepted by another; the timestamp and nonce stop replays.
func Message(srv identity.Fingerprint, method, path string, ts int64, nonce []byte, bodyHash string) []byte {
	var b strings.Builder
	b.WriteString("xftp request v1\n")
	b.WriteString(srv.String())
	b.WriteByte('\n')
	b.WriteString(method)
	b.WriteByte('\n')
	b.WriteString(path)
	b.WriteByte('\n')
	b.WriteString(strconv.FormatInt(ts, 10))
	b.WriteByte('\n')
	b.WriteString(base64.RawURLEncoding.EncodeToString(nonce))
	b.WriteByte('\n')
	b.WriteString(bodyHash)
	return []byte(b.String())
}
