package httpclient

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/xftp/xftp/api"
)

// Every kind of error answer matches its code's sentinel, and retries
// follow api.Codes.
func TestErrorsFollowTheCodeTable(t *testing.T) {
	for _, c := range api.Codes {
		sentinel := &api.Error{Code: c.Code}
		for _, err := range []error{
			&api.Error{Status: c.Status, Code: c.Code},
			&AdminAPIError{Status: c.Status, Code: c.Code},
			&ProxyError{Status: c.Status, Code: c.Code},
		} {
			wrapped := fmt.Errorf("op: %w", err)
			if !errors.Is(wrapped, sentinelOf(t, c.Code)) {
				t.Errorf("%T with %s is not its sentinel", err, c.Code)
			}
			if c.Code != api.CodeAuth && errors.Is(wrapped, api.ErrAuth) {
				t.Errorf("%T with %s is ErrAuth", err, c.Code)
			}
		}
		if (&ProxyError{Code: c.Code}).Temporary() != c.Temporary || sentinel.Temporary() != c.Temporary {
			t.Errorf("%s: retry rule not from the table", c.Code)
		}
	}
}

// sentinelOf finds the exported sentinel of code by matching it.
func sentinelOf(t *testing.T, code string) error {
	t.Helper()
	for _, s := range []error{api.ErrAuth, api.ErrClock, api.ErrSize, api.ErrDigest, api.ErrQuota, api.ErrNoChunk,
		api.ErrSyntax, api.ErrProhibited, api.ErrTooLarge, api.ErrTimeout, api.ErrUnavailable, api.ErrCorrupt,
		api.ErrFull, api.ErrInternal, api.ErrNotFound, api.ErrBlocked, api.ErrKeyInUse, api.ErrRate,
		api.ErrNotBlocked, api.ErrAlreadyBlocked, api.ErrNotConfigured, api.ErrProxyLayer, api.ErrProxyRefused,
		api.ErrProxyBusy, api.ErrUnreachable, api.ErrWrongIdentity} {
		if errors.Is(&api.Error{Code: code}, s) {
			return s
		}
	}
	t.Fatalf("no sentinel for %s", code)
	return nil
}

// A 503 without a body (a relay refusing work under load) is
// UNAVAILABLE; other answers without a code are named by their status.
func TestAnswerWithoutCode(t *testing.T) {
	for status, want := range map[int]string{503: api.CodeUnavailable, 502: "HTTP_502", 500: "HTTP_500"} {
		e := readError(&http.Response{StatusCode: status, Header: http.Header{"Retry-After": {"5"}}, Body: http.NoBody})
		if e.Code != want || !e.Temporary() || e.RetryAfter != 5*time.Second {
			t.Errorf("%d without a body: %+v, want %s, temporary, Retry-After 5s", status, e, want)
		}
	}
}
