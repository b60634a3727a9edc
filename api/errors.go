package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/xftp/xftp/blocklist"
	"github.com/xftp/xftp/server"
)

// Wire error codes.
const (
	CodeAuth        = "AUTH"
	CodeClock       = "CLOCK"
	CodeSize        = "SIZE"
	CodeDigest      = "DIGEST"
	CodeQuota       = "QUOTA"
	CodeNoChunk     = "NO_CHUNK"
	CodeSyntax      = "SYNTAX"
	CodeProhibited  = "PROHIBITED"
	CodeTooLarge    = "TOO_LARGE"
	CodeTimeout     = "TIMEOUT"
	CodeUnavailable = "UNAVAILABLE"
	CodeCorrupt     = "CORRUPT"
	CodeFull        = "STORAGE_FULL"
	CodeInternal    = "INTERNAL"
	CodeNotFound    = "NOT_FOUND"
	CodeBlocked     = "BLOCKED" // with HTTP 451 and the signed record; see blocked.go
	CodeKeyInUse    = "KEY_IN_USE"
	// Admin API only.
	CodeNotBlocked     = "NOT_BLOCKED"
	CodeAlreadyBlocked = "ALREADY_BLOCKED"
	CodeNotConfigured  = "NOT_CONFIGURED"
)

// statusOf is the one mapping from domain errors to HTTP status and code.
func statusOf(err error) (int, string) {
	var mbe *http.MaxBytesError
	var be *blocklist.BlockedError
	switch {
	case errors.As(err, &be):
		return StatusBlocked, CodeBlocked
	case errors.Is(err, server.ErrUnavailable):
		return http.StatusServiceUnavailable, CodeUnavailable
	case errors.Is(err, server.ErrAuth):
		return http.StatusForbidden, CodeAuth
	case errors.Is(err, server.ErrClock):
		return http.StatusUnauthorized, CodeClock
	case errors.Is(err, server.ErrSize):
		return http.StatusBadRequest, CodeSize
	case errors.Is(err, server.ErrDigest):
		return http.StatusBadRequest, CodeDigest
	case errors.Is(err, server.ErrQuota):
		return http.StatusInsufficientStorage, CodeQuota
	case errors.Is(err, server.ErrNoChunk):
		return http.StatusNotFound, CodeNoChunk
	case errors.Is(err, server.ErrSyntax):
		return http.StatusBadRequest, CodeSyntax
	case errors.Is(err, server.ErrProhibited):
		return http.StatusForbidden, CodeProhibited
	case errors.Is(err, server.ErrFull):
		return http.StatusInsufficientStorage, CodeFull
	case errors.Is(err, server.ErrCorrupt):
		return http.StatusInternalServerError, CodeCorrupt
	case errors.Is(err, server.ErrKeyInUse):
		return http.StatusConflict, CodeKeyInUse
	case errors.Is(err, server.ErrUnknownChunk):
		return http.StatusNotFound, CodeNotFound
	case errors.Is(err, server.ErrNotBlocked):
		return http.StatusNotFound, CodeNotBlocked
	case errors.Is(err, server.ErrAlreadyBlocked):
		return http.StatusConflict, CodeAlreadyBlocked
	case errors.Is(err, server.ErrNoBlocklist), errors.Is(err, server.ErrNoReports):
		return http.StatusNotImplemented, CodeNotConfigured
	case errors.Is(err, server.ErrRateLimited):
		return http.StatusTooManyRequests, CodeRate
	case errors.Is(err, server.ErrUnknownReport):
		return http.StatusNotFound, CodeNotFound
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, CodeTooLarge
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		// Canceled: the client hung up; the answer goes nowhere, and it is
		// not a server error to log.
		return http.StatusRequestTimeout, CodeTimeout
	}
	return http.StatusInternalServerError, CodeInternal
}

// retryAfter is what a 503 tells clients to wait.
const retryAfter = 5 * time.Second

// Error is an error answer from a server, as the client sees it.
type Error struct {
	Status int
	Code   string
	// RetryAfter is the server's Retry-After, if it sent one.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if msg, ok := codeText[e.Code]; ok {
		return msg
	}
	return fmt.Sprintf("server answered HTTP %d (%s)", e.Status, e.Code)
}

// Temporary reports whether retrying the same request may succeed.
func (e *Error) Temporary() bool {
	switch e.Code {
	case CodeUnavailable, CodeTimeout, CodeInternal, CodeClock:
		return true
	}
	return e.Status == http.StatusTooManyRequests || e.Status >= 500 && e.Code != CodeQuota && e.Code != CodeCorrupt
}

var codeText = map[string]string{
	CodeAuth:        "the server refused the request: unknown, expired or deleted chunk, or a wrong key or password (AUTH)",
	CodeClock:       "the server refused the request's time stamp: check this computer's clock (CLOCK)",
	CodeSize:        "the server refused the chunk size or the body length (SIZE)",
	CodeDigest:      "the uploaded chunk does not match its digest (DIGEST)",
	CodeQuota:       "the server's storage quota is full (QUOTA)",
	CodeNoChunk:     "the chunk has not been uploaded yet (NO_CHUNK)",
	CodeSyntax:      "the server could not parse the request (SYNTAX)",
	CodeProhibited:  "the server does not accept new uploads (PROHIBITED)",
	CodeTooLarge:    "the request is too large for the server (TOO_LARGE)",
	CodeTimeout:     "the server timed out waiting for the request (TIMEOUT)",
	CodeUnavailable: "the server's storage is temporarily unavailable; try again later (UNAVAILABLE)",
	CodeCorrupt:     "the server's copy of the chunk is corrupt (CORRUPT)",
	CodeFull:        "the server's disk is full or read-only; try later or another server (STORAGE_FULL)",
	CodeInternal:    "the server had an internal error (INTERNAL)",
	CodeBlocked:     "the server's operator blocked the chunk (BLOCKED)",
	CodeKeyInUse:    "the sender key names another chunk on this server; use a new one (KEY_IN_USE)",
}

func parseRetryAfter(v string) time.Duration {
	if n, err := strconv.Atoi(v); err == nil && n >= 0 && n < 3600 {
		return time.Duration(n) * time.Second
	}
	return 0
}
