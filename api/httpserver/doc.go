// Package httpserver is the relay's native binding: the HTTP/2 routes of
// docs/PROTOCOL.md over server.Service (one file per resource), the
// operator's admin API over server.Moderation, per-source limits, and the
// tuned HTTP server. Service errors become wire codes in one place
// (errors.go); each code's status comes from api.Codes.
package httpserver
