// Package api is the vocabulary of the relay's native wire protocol,
// specified in docs/PROTOCOL.md: the JSON types, the error codes with
// their one table (HTTP status, temporary or not, text), server
// addresses, request signing, header names and limits.
//
// It imports nothing of the server side, so that every client (the Go
// clients in api/httpclient, the CLI, the browser page's WebAssembly
// module) and every binding (api/httpserver) speaks from the same table.
package api
