// Package api is the relay's HTTP/2 binding and wire format, specified in
// docs/PROTOCOL.md: chi routes (one file per resource), the JSON wire
// types, request signing and its verification, the one mapping from domain
// errors to HTTP status and wire code, the tuned HTTP/2 server, and the Go
// client that the CLI (and proxies) use.
package api
