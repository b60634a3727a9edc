package httpserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/blocklist"
	"github.com/xftp/xftp/server"
)

// Each service error answers with the status and code it always had, and
// the client's *api.Error for that answer is the code's sentinel.
func TestStatusOf(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
		code   string
		is     error
	}{
		{&blocklist.BlockedError{}, 451, api.CodeBlocked, api.ErrBlocked},
		{server.ErrUnavailable, 503, api.CodeUnavailable, api.ErrUnavailable},
		{server.ErrAuth, 403, api.CodeAuth, api.ErrAuth},
		{server.ErrClock, 401, api.CodeClock, api.ErrClock},
		{server.ErrSize, 400, api.CodeSize, api.ErrSize},
		{server.ErrDigest, 400, api.CodeDigest, api.ErrDigest},
		{server.ErrQuota, 507, api.CodeQuota, api.ErrQuota},
		{server.ErrNoChunk, 404, api.CodeNoChunk, api.ErrNoChunk},
		{server.ErrSyntax, 400, api.CodeSyntax, api.ErrSyntax},
		{server.ErrProhibited, 403, api.CodeProhibited, api.ErrProhibited},
		{server.ErrFull, 507, api.CodeFull, api.ErrFull},
		{server.ErrCorrupt, 500, api.CodeCorrupt, api.ErrCorrupt},
		{server.ErrKeyInUse, 409, api.CodeKeyInUse, api.ErrKeyInUse},
		{server.ErrUnknownChunk, 404, api.CodeNotFound, api.ErrNotFound},
		{server.ErrNotBlocked, 404, api.CodeNotBlocked, api.ErrNotBlocked},
		{server.ErrAlreadyBlocked, 409, api.CodeAlreadyBlocked, api.ErrAlreadyBlocked},
		{server.ErrNoBlocklist, 501, api.CodeNotConfigured, api.ErrNotConfigured},
		{server.ErrNoReports, 501, api.CodeNotConfigured, api.ErrNotConfigured},
		{server.ErrRateLimited, 429, api.CodeRate, api.ErrRate},
		{server.ErrUnknownReport, 404, api.CodeNotFound, api.ErrNotFound},
		{&http.MaxBytesError{Limit: 1}, 413, api.CodeTooLarge, api.ErrTooLarge},
		{context.DeadlineExceeded, 408, api.CodeTimeout, api.ErrTimeout},
		{context.Canceled, 408, api.CodeTimeout, api.ErrTimeout},
		{errors.New("disk on fire"), 500, api.CodeInternal, api.ErrInternal},
		// A backend failure wins over what it made fail.
		{fmt.Errorf("%w: %w", server.ErrAuth, server.ErrUnavailable), 503, api.CodeUnavailable, api.ErrUnavailable},
	} {
		status, code := statusOf(fmt.Errorf("wrapped: %w", c.err))
		if status != c.status || code != c.code {
			t.Errorf("%v: %d %s, want %d %s", c.err, status, code, c.status, c.code)
		}
		if !errors.Is(&api.Error{Status: status, Code: code}, c.is) {
			t.Errorf("%v: the answer is not %v", c.err, c.is)
		}
	}
}
