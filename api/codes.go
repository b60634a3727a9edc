package api

import (
	"fmt"
	"strconv"
	"time"
)

// Wire error codes: the "error" of every error answer (ErrorResponse).
// Their HTTP status, whether a retry may succeed, and their explanation
// are in one table, Codes.
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
	CodeBlocked     = "BLOCKED" // with HTTP 451 and the signed record (BlockedResponse)
	CodeKeyInUse    = "KEY_IN_USE"
	// CodeRate answers a request over a per-source rate limit.
	CodeRate = "RATE"

	// Admin API only.
	CodeNotBlocked     = "NOT_BLOCKED"
	CodeAlreadyBlocked = "ALREADY_BLOCKED"
	CodeNotConfigured  = "NOT_CONFIGURED"

	// Proxy codes (docs/PROXY.md). A proxy's own refusals are plain JSON
	// error answers to its previous hop; refusals of later hops travel
	// back sealed.

	// CodeProxyLayer: the layer could not be opened or is malformed.
	CodeProxyLayer = "PROXY_LAYER"
	// CodeProxyRefused: the proxy will not forward to that next hop (not
	// on its allow-list, itself, or not an xftp server).
	CodeProxyRefused = "PROXY_REFUSED"
	// CodeProxyBusy: the proxy is at its concurrency limit.
	CodeProxyBusy = "PROXY_BUSY"
	// CodeUnreachable: the next hop could not be reached (sealed refusals
	// only).
	CodeUnreachable = "UNREACHABLE"
	// CodeWrongIdentity: the next hop failed its identity check (sealed
	// refusals only).
	CodeWrongIdentity = "WRONG_IDENTITY"
)

// StatusBlocked is the HTTP status of a blocked chunk: 451 Unavailable For
// Legal Reasons (RFC 7725).
const StatusBlocked = 451

// CodeInfo is one row of the code table.
type CodeInfo struct {
	Code string
	// Status is the HTTP status the native binding answers with. (Two
	// answers differ: a route that exists for another method is 405 with
	// SYNTAX, and the admin API refuses a token with 401 AUTH.)
	Status int
	// Temporary: retrying the same request later may succeed.
	Temporary bool
	// Text explains an answer from a relay to a person.
	Text string
	// Hop explains a proxy's refusal, after "proxy <address> (hop n) ";
	// empty for codes a proxy does not send as its own.
	Hop string
}

// Codes is the one table of wire error codes, read by the relay's HTTP
// binding (status), the Go clients and the proxy (retries, messages), the
// CLI, and the browser page.
var Codes = []CodeInfo{
	{CodeAuth, 403, false, "the server refused the request: unknown, expired or deleted chunk, or a wrong key or password (AUTH)", ""},
	{CodeClock, 401, true, "the server refused the request's time stamp: check this computer's clock (CLOCK)", ""},
	{CodeSize, 400, false, "the server refused the chunk size or the body length (SIZE)", ""},
	{CodeDigest, 400, false, "the uploaded chunk does not match its digest (DIGEST)", ""},
	{CodeQuota, 507, false, "the server's storage quota is full (QUOTA)", ""},
	{CodeNoChunk, 404, false, "the chunk has not been uploaded yet (NO_CHUNK)", ""},
	{CodeSyntax, 400, false, "the server could not parse the request (SYNTAX)", ""},
	{CodeProhibited, 403, false, "the server does not accept new uploads (PROHIBITED)", ""},
	{CodeTooLarge, 413, false, "the request is too large for the server (TOO_LARGE)", ""},
	{CodeTimeout, 408, true, "the server timed out waiting for the request (TIMEOUT)", ""},
	{CodeUnavailable, 503, true, "the server is busy or its storage temporarily unavailable; try again later (UNAVAILABLE)", ""},
	{CodeCorrupt, 500, false, "the server's copy of the chunk is corrupt (CORRUPT)", ""},
	{CodeFull, 507, true, "the server's disk is full or read-only; try later or another server (STORAGE_FULL)", ""},
	{CodeInternal, 500, true, "the server had an internal error (INTERNAL)", ""},
	{CodeNotFound, 404, false, "the server has no such endpoint or record (NOT_FOUND)", "is not a proxy: the proxy role is off (NOT_FOUND)"},
	{CodeBlocked, StatusBlocked, false, "the server's operator blocked the chunk (BLOCKED)", ""},
	{CodeKeyInUse, 409, false, "the sender key names another chunk on this server; use a new one (KEY_IN_USE)", ""},
	{CodeRate, 429, true, "the server refused: too many requests from this computer's address; try again later (RATE)", "refused: too many requests from this source (RATE)"},
	{CodeNotBlocked, 404, false, "the chunk is not blocked (NOT_BLOCKED)", ""},
	{CodeAlreadyBlocked, 409, false, "the chunk is already blocked (ALREADY_BLOCKED)", ""},
	{CodeNotConfigured, 501, true, "the server is not configured for this (NOT_CONFIGURED)", ""},
	{CodeProxyLayer, 400, false, "the proxy could not open the request sealed to it (PROXY_LAYER)", "could not open the request sealed to it (PROXY_LAYER); is it a proxy?"},
	{CodeProxyRefused, 403, false, "the proxy refuses to forward to that next hop (PROXY_REFUSED)", "refuses to forward to that next hop (PROXY_REFUSED)"},
	{CodeProxyBusy, 503, true, "the proxy is busy (PROXY_BUSY)", "is busy (PROXY_BUSY)"},
	{CodeUnreachable, 502, false, "the next hop could not be reached (UNREACHABLE)", "could not be reached (UNREACHABLE)"},
	{CodeWrongIdentity, 502, false, "the next hop is not the server its address pins (WRONG_IDENTITY)", "is not the server its address pins (WRONG_IDENTITY)"},
}

var codeIndex = func() map[string]*CodeInfo {
	m := make(map[string]*CodeInfo, len(Codes))
	for i := range Codes {
		m[Codes[i].Code] = &Codes[i]
	}
	return m
}()

// LookupCode returns the table row of code.
func LookupCode(code string) (CodeInfo, bool) {
	if c, ok := codeIndex[code]; ok {
		return *c, true
	}
	return CodeInfo{}, false
}

// RetryAfter is what a 503 answer tells clients to wait.
const RetryAfter = 5 * time.Second

// Error is an error answer from a server, as a client sees it.
// errors.Is(err, ErrQuota) (and each other code's sentinel) reports
// whether err is an answer with that code.
type Error struct {
	Status int
	Code   string
	// RetryAfter is the server's Retry-After, if it sent one.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if c, ok := codeIndex[e.Code]; ok {
		return c.Text
	}
	return fmt.Sprintf("server answered HTTP %d (%s)", e.Status, e.Code)
}

// Temporary reports whether retrying the same request may succeed: what
// the table says of a known code, and for an unknown one, whether the
// status is 429 or 5xx.
func (e *Error) Temporary() bool {
	if c, ok := codeIndex[e.Code]; ok {
		return c.Temporary
	}
	return e.Status == 429 || e.Status >= 500
}

// Is reports whether target is the sentinel of e's code.
func (e *Error) Is(target error) bool {
	c, ok := target.(codeError)
	return ok && string(c) == e.Code
}

// codeError is the type of the code sentinels.
type codeError string

func (c codeError) Error() string {
	if i, ok := codeIndex[string(c)]; ok {
		return i.Text
	}
	return string(c)
}

// Code sentinels: errors.Is(err, ErrQuota) holds for an answer (*Error)
// with code QUOTA, as a client receives it.
var (
	ErrAuth           error = codeError(CodeAuth)
	ErrClock          error = codeError(CodeClock)
	ErrSize           error = codeError(CodeSize)
	ErrDigest         error = codeError(CodeDigest)
	ErrQuota          error = codeError(CodeQuota)
	ErrNoChunk        error = codeError(CodeNoChunk)
	ErrSyntax         error = codeError(CodeSyntax)
	ErrProhibited     error = codeError(CodeProhibited)
	ErrTooLarge       error = codeError(CodeTooLarge)
	ErrTimeout        error = codeError(CodeTimeout)
	ErrUnavailable    error = codeError(CodeUnavailable)
	ErrCorrupt        error = codeError(CodeCorrupt)
	ErrFull           error = codeError(CodeFull)
	ErrInternal       error = codeError(CodeInternal)
	ErrNotFound       error = codeError(CodeNotFound)
	ErrBlocked        error = codeError(CodeBlocked)
	ErrKeyInUse       error = codeError(CodeKeyInUse)
	ErrRate           error = codeError(CodeRate)
	ErrNotBlocked     error = codeError(CodeNotBlocked)
	ErrAlreadyBlocked error = codeError(CodeAlreadyBlocked)
	ErrNotConfigured  error = codeError(CodeNotConfigured)
	ErrProxyLayer     error = codeError(CodeProxyLayer)
	ErrProxyRefused   error = codeError(CodeProxyRefused)
	ErrProxyBusy      error = codeError(CodeProxyBusy)
	ErrUnreachable    error = codeError(CodeUnreachable)
	ErrWrongIdentity  error = codeError(CodeWrongIdentity)
)

// ParseRetryAfter reads a Retry-After header of whole seconds (under an
// hour); anything else is 0.
func ParseRetryAfter(v string) time.Duration {
	if n, err := strconv.Atoi(v); err == nil && n >= 0 && n < 3600 {
		return time.Duration(n) * time.Second
	}
	return 0
}
