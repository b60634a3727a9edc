// Package httpclient holds the Go clients of the native protocol: Client
// (one relay, its identity pinned), Route (downloads through receiving
// proxies, docs/PROXY.md) and AdminClient (the operator's admin API). It
// links nothing of the server side; a test in cmd/xftp keeps it so.
//
// Error answers are *api.Error: errors.Is(err, api.ErrQuota) and the
// other code sentinels work on them.
package httpclient
