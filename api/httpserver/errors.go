package httpserver

import (
	"context"
	"errors"
	"net/http"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/blocklist"
	"github.com/xftp/xftp/server"
)

// wireCodes maps the service's errors to wire codes, in the order they are
// tested (a backend failure wins over what it made fail); each code's HTTP
// status is in api.Codes.
var wireCodes = []struct {
	err  error
	code string
}{
	{server.ErrUnavailable, api.CodeUnavailable},
	{server.ErrAuth, api.CodeAuth},
	{server.ErrClock, api.CodeClock},
	{server.ErrSize, api.CodeSize},
	{server.ErrDigest, api.CodeDigest},
	{server.ErrQuota, api.CodeQuota},
	{server.ErrNoChunk, api.CodeNoChunk},
	{server.ErrSyntax, api.CodeSyntax},
	{server.ErrProhibited, api.CodeProhibited},
	{server.ErrFull, api.CodeFull},
	{server.ErrCorrupt, api.CodeCorrupt},
	{server.ErrKeyInUse, api.CodeKeyInUse},
	{server.ErrUnknownChunk, api.CodeNotFound},
	{server.ErrNotBlocked, api.CodeNotBlocked},
	{server.ErrAlreadyBlocked, api.CodeAlreadyBlocked},
	{server.ErrNoBlocklist, api.CodeNotConfigured},
	{server.ErrNoReports, api.CodeNotConfigured},
	{server.ErrRateLimited, api.CodeRate},
	{server.ErrUnknownReport, api.CodeNotFound},
}

// statusOf is the one mapping from errors to HTTP status and wire code.
func statusOf(err error) (int, string) {
	code := codeOf(err)
	c, _ := api.LookupCode(code)
	return c.Status, code
}

func codeOf(err error) string {
	var be *blocklist.BlockedError
	if errors.As(err, &be) {
		return api.CodeBlocked
	}
	for _, w := range wireCodes {
		if errors.Is(err, w.err) {
			return w.code
		}
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return api.CodeTooLarge
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		// Canceled: the client hung up; the answer goes nowhere, and it is
		// not a server error to log.
		return api.CodeTimeout
	}
	return api.CodeInternal
}
