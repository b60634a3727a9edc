package api

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/xftp/xftp/identity"
)

// UnsignedBody stands for the body hash of an upload: an upload body is
// bound by the digest given at create, not by the signature, so the client
// can sign before it streams.
const UnsignedBody = "-"

// NonceSize is the size of a request nonce.
const NonceSize = 16

// AuthHeader is the parsed Xftp-Auth header: "ts=<unix seconds>,
// nonce=<base64url 16 bytes>, sig=<base64url 64 bytes>".
type AuthHeader struct {
	Timestamp int64
	Nonce     []byte
	Signature []byte
}

var errAuthHeader = errors.New("malformed " + HeaderAuth + " header")

// ParseAuthHeader parses an Xftp-Auth header value strictly.
func ParseAuthHeader(v string) (AuthHeader, error) {
	var h AuthHeader
	parts := strings.Split(v, ",")
	if len(parts) != 3 {
		return h, errAuthHeader
	}
	want := [3]string{"ts", "nonce", "sig"}
	var vals [3]string
	for i, p := range parts {
		k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || k != want[i] || val == "" {
			return h, errAuthHeader
		}
		vals[i] = val
	}
	ts, err := strconv.ParseInt(vals[0], 10, 64)
	if err != nil || ts < 0 || strconv.FormatInt(ts, 10) != vals[0] {
		return h, errAuthHeader
	}
	nonce, err := enc.DecodeString(vals[1])
	if err != nil || len(nonce) != NonceSize {
		return h, errAuthHeader
	}
	sig, err := enc.DecodeString(vals[2])
	if err != nil || len(sig) != ed25519.SignatureSize {
		return h, errAuthHeader
	}
	return AuthHeader{Timestamp: ts, Nonce: nonce, Signature: sig}, nil
}

// String formats the header value.
func (h AuthHeader) String() string {
	return "ts=" + strconv.FormatInt(h.Timestamp, 10) + ", nonce=" + enc.EncodeToString(h.Nonce) +
		", sig=" + enc.EncodeToString(h.Signature)
}

// BodyHash is the hex SHA-256 of a request body, as signed.
func BodyHash(body []byte) string {
	s := sha256.Sum256(body)
	return hex.EncodeToString(s[:])
}

// SignedMessage is the canonical request that a client signs:
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
func SignedMessage(srv identity.Fingerprint, method, path string, ts int64, nonce []byte, bodyHash string) []byte {
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
	b.WriteString(enc.EncodeToString(nonce))
	b.WriteByte('\n')
	b.WriteString(bodyHash)
	return []byte(b.String())
}

// Sign makes the Xftp-Auth header for a request.
func Sign(key ed25519.PrivateKey, srv identity.Fingerprint, method, path, bodyHash string, now time.Time) AuthHeader {
	h := AuthHeader{Timestamp: now.Unix(), Nonce: make([]byte, NonceSize)}
	rand.Read(h.Nonce)
	h.Signature = ed25519.Sign(key, SignedMessage(srv, method, path, h.Timestamp, h.Nonce, bodyHash))
	return h
}
