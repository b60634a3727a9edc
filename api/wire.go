package api

import "encoding/binary"

// Header names of the protocol.
const (
	HeaderAuth         = "Xftp-Auth"
	HeaderServerKey    = "Xftp-Server-Key"
	HeaderKeySignature = "Xftp-Key-Signature"
	HeaderRequestID    = "Xftp-Request-Id"
)

// Limits of the protocol.
const (
	// MaxJSONBody caps every JSON request body.
	MaxJSONBody = 64 << 10
	// MaxHeaderBytes caps a request's headers.
	MaxHeaderBytes = 16 << 10
)

// CreateRequest is the body of POST /v1/chunks. Binary values are
// unpadded base64url ([]byte marshals as padded base64 in encoding/json, so
// the wire uses B64).
type CreateRequest struct {
	SenderKey     B64    `json:"sender_key"`
	Size          int64  `json:"size"`
	Digest        B64    `json:"digest"`
	RecipientKeys []B64  `json:"recipient_keys"`
	Password      string `json:"password,omitempty"`
}

// CreateResponse answers POST /v1/chunks.
type CreateResponse struct {
	SenderID     B64   `json:"sender_id"`
	RecipientIDs []B64 `json:"recipient_ids"`
	ExpiresAt    int64 `json:"expires_at"` // unix seconds
}

// RecipientsRequest is the body of POST /v1/chunks/{id}/recipients.
type RecipientsRequest struct {
	RecipientKeys []B64 `json:"recipient_keys"`
}

// RecipientsResponse answers POST /v1/chunks/{id}/recipients.
type RecipientsResponse struct {
	RecipientIDs []B64 `json:"recipient_ids"`
}

// DownloadRequest is the body of POST /v1/chunks/{id}/download.
type DownloadRequest struct {
	// Key is the client's ephemeral X25519 public key.
	Key B64 `json:"key"`
}

// IdentityResponse answers GET /v1/identity?challenge=...
type IdentityResponse struct {
	PublicKey B64 `json:"public_key"`
	Signature B64 `json:"signature"`
}

// ErrorResponse is the body of every error answer.
type ErrorResponse struct {
	Error string `json:"error"`
}

// ServerInfo answers GET /v1/ping.
type ServerInfo struct {
	Version    int     `json:"version"`
	ChunkSizes []int64 `json:"chunk_sizes"`
}

// StatusResponse answers POST /v1/chunks/{sender ID}/status, a request
// signed by the sender key with the body {}. Delivery receipts are counts,
// never which recipient: recipient_ids counts every recipient ID the chunk
// had (remaining and acknowledged, padding included), downloaded those
// that completed a download at least once, acked those acknowledged.
type StatusResponse struct {
	Uploaded     bool  `json:"uploaded"`
	RecipientIDs int   `json:"recipient_ids"`
	Downloaded   int   `json:"downloaded"`
	Acked        int   `json:"acked"`
	ExpiresAt    int64 `json:"expires_at"` // unix seconds
}

// ReportRequest is the body of POST /v1/chunks/{recipient ID}/report, an
// abuse report signed by the recipient key. The answer is {} whether or
// not the chunk was reported before, so reporters learn nothing about each
// other.
type ReportRequest struct {
	Reason  string `json:"reason"`            // spam, content or [a-z0-9_-]{1,32}
	Contact string `json:"contact,omitempty"` // optional, at most 256 bytes
}

// BlockedResponse is the body of a 451 answer (see docs/TAKEDOWNS.md):
// {"error":"BLOCKED","record":"<unpadded base64url of the record's wire
// form>"}. The record names the ID of the request (or, when a create is
// refused, the digest it sent) and is signed by the server identity.
type BlockedResponse struct {
	Error  string `json:"error"`
	Record B64    `json:"record"`
}

// ProtocolVersion is the wire protocol's version.
const ProtocolVersion = 1

// The body of PUT /v1/chunks starts with the create request: its length
// (4 bytes, big-endian, at most MaxJSONBody) and its JSON, which the
// request's signature covers; the chunk's bytes follow.
const CreatePrefixMax = 4 + MaxJSONBody

// AppendCreatePrefix frames a create request for PUT /v1/chunks.
func AppendCreatePrefix(b, js []byte) []byte {
	return append(binary.BigEndian.AppendUint32(b, uint32(len(js))), js...)
}
