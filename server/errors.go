package server

import (
	"errors"
	"syscall"
)

// Domain errors, all of them. Each binding maps each to one wire code
// (api/httpserver/errors.go for the native protocol); nothing else of an
// error's text reaches a client.
var (
	// ErrAuth: the signature is wrong, the ID is unknown or expired, or the
	// key does not authorize the ID. Deliberately one error for all.
	ErrAuth = errors.New("authorization failed")
	// ErrClock: the request's timestamp is outside the accepted window.
	ErrClock = errors.New("request timestamp outside the accepted window")
	// ErrSize: a chunk size that is not allowed, or a body of the wrong length.
	ErrSize = errors.New("wrong chunk size")
	// ErrDigest: the uploaded body does not match the digest given at create.
	ErrDigest = errors.New("chunk digest mismatch")
	// ErrQuota: the server's storage quota is used up.
	ErrQuota = errors.New("storage quota exceeded")
	// ErrNoChunk: the chunk exists but its body was not uploaded yet.
	ErrNoChunk = errors.New("chunk body not uploaded")
	// ErrSyntax: a malformed request.
	ErrSyntax = errors.New("malformed request")
	// ErrProhibited: the server does not accept new chunks.
	ErrProhibited = errors.New("new chunks are not accepted")
	// ErrUnavailable: a backend cannot be reached; retry later.
	ErrUnavailable = errors.New("storage backend unavailable")
	// ErrFull: the server's disk is full or read-only; nothing was stored.
	ErrFull = errors.New("chunk storage is full or read-only")
	// ErrCorrupt: a stored body no longer matches its digest.
	ErrCorrupt = errors.New("stored chunk is corrupt")
	// ErrKeyInUse: a create's sender key names a live chunk asked for
	// differently; the client makes a new sender key.
	ErrKeyInUse = errors.New("the sender key names another chunk")
)

// Takedown errors, for the operator's admin API.
var (
	// ErrUnknownChunk: no chunk has that ID (unknown, expired or deleted).
	ErrUnknownChunk = errors.New("no chunk has that ID")
	// ErrAlreadyBlocked: the ID is blocked already.
	ErrAlreadyBlocked = errors.New("the chunk is already blocked")
	// ErrNotBlocked: the ID or case is not blocked.
	ErrNotBlocked = errors.New("not blocked")
	// ErrNoBlocklist: the service has no blocklist store.
	ErrNoBlocklist = errors.New("blocking is not configured")
)

// Abuse report errors.
var (
	// ErrNoReports: the service keeps no abuse reports.
	ErrNoReports = errors.New("abuse reports are not configured")
	// ErrRateLimited: too many requests of this kind; retry later.
	ErrRateLimited = errors.New("too many requests")
	// ErrUnknownReport: no report has that ID (unknown, expired, dismissed
	// or turned into a block).
	ErrUnknownReport = errors.New("no report has that ID")
)

// storageFull reports whether err means the body store cannot take data:
// no space, no quota, or a read-only file system.
func storageFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, syscall.EROFS)
}
