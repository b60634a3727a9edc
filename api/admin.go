package api

// The operator's admin API (docs/TAKEDOWNS.md). It is served on its own
// listener, loopback by default, in plain HTTP, and every request carries
// "Authorization: Bearer <token>".

// AdminIdentity answers GET /admin/v1/identity.
type AdminIdentity struct {
	Fingerprint string `json:"fingerprint"` // unpadded base64url, as in addresses
}

// AdminBlockRequest is the body of POST /admin/v1/blocks.
type AdminBlockRequest struct {
	ID           B64      `json:"id"` // a sender or recipient ID of the chunk
	Reason       string   `json:"reason"`
	Notice       string   `json:"notice,omitempty"`
	TTLSeconds   int64    `json:"ttl_seconds,omitempty"`
	Restrictions []string `json:"restrictions,omitempty"`
}

// AdminCase describes one block: the answer to block, get and unblock.
type AdminCase struct {
	Case         B64          `json:"case"` // the case (appeal) code
	Reason       string       `json:"reason"`
	Notice       string       `json:"notice,omitempty"`
	BlockedAt    int64        `json:"blocked_at"` // unix seconds
	TTLSeconds   int64        `json:"ttl_seconds"`
	Restrictions []string     `json:"restrictions"`
	Keys         []AdminEntry `json:"keys"`
	// Body is what happened to the chunk body (block only): deleted,
	// quarantined, none (never uploaded) or kept (see the server log).
	Body string `json:"body,omitempty"`
}

// AdminEntry is one blocked key. The key itself is not shown, only its
// SHA-256, which is also what the stores use as the key's name.
type AdminEntry struct {
	Kind    string `json:"kind"` // sender, recipient or digest
	KeyHash B64    `json:"key_hash"`
	Case    B64    `json:"case,omitempty"`
	// The record's fields; set in lists only.
	Reason       string   `json:"reason,omitempty"`
	BlockedAt    int64    `json:"blocked_at,omitempty"`
	TTLSeconds   int64    `json:"ttl_seconds,omitempty"`
	Restrictions []string `json:"restrictions,omitempty"`
}

// AdminList answers GET /admin/v1/blocks?cursor=C&limit=N.
type AdminList struct {
	Entries []AdminEntry `json:"entries"`
	Next    string       `json:"next,omitempty"` // cursor of the next page; empty after the last
}

// AdminError is the body of every admin error answer. Unlike relay
// answers, Detail may explain a refused request: only the operator sees it.
type AdminError struct {
	Error  string `json:"error"`
	Detail string `json:"detail,omitempty"`
}

// AdminReport is one abuse report as moderators see it: what was said
// about one chunk, never the chunk's IDs.
type AdminReport struct {
	ID        B64            `json:"id"` // 16 bytes
	Count     int            `json:"count"`
	Reasons   map[string]int `json:"reasons"`
	Contacts  []string       `json:"contacts,omitempty"`
	FirstAt   int64          `json:"first_at"` // unix seconds
	LastAt    int64          `json:"last_at"`
	ExpiresAt int64          `json:"expires_at"` // the chunk's expiry
}

// AdminReportList answers GET /admin/v1/reports?cursor=C&limit=N.
type AdminReportList struct {
	Reports []AdminReport `json:"reports"`
	Next    string        `json:"next,omitempty"`
}

// AdminAppealRequest is the body of POST /admin/v1/appeals.
type AdminAppealRequest struct {
	Case    B64  `json:"case"`              // the 16-byte case (appeal) code
	Unblock bool `json:"unblock,omitempty"` // also lift the block itself
	Force   bool `json:"force,omitempty"`   // issue even if the case is not blocked
}

// AdminAppeal answers POST /admin/v1/appeals.
type AdminAppeal struct {
	// Proof is the unblock proof in text form, "xftp:unblock:<base64url>",
	// to hand to whoever appealed.
	Proof     string     `json:"proof"`
	Case      B64        `json:"case"`
	Server    string     `json:"server"` // fingerprint
	GrantedAt int64      `json:"granted_at"`
	Unblocked *AdminCase `json:"unblocked,omitempty"`
}
