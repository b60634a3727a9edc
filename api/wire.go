package api

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
