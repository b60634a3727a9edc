// Package h2attack writes HTTP/2 frame floods on a connection, for tests
// and benchmarks of a relay's defences on loopback: SETTINGS, PING,
// PRIORITY, WINDOW_UPDATE and empty-DATA floods, rapid reset (the client
// resets its own streams) and MadeYouReset (CVE-2025-8671: frames that make
// the server reset streams itself, so the server's rapid-reset limit never
// counts them).
//
// A flood speaks just enough HTTP/2 to be served: the client preface, one
// SETTINGS frame, and request HEADERS where its kind needs streams. It
// reads and discards whatever the server sends, so the server never blocks
// on a full socket, and it stops at the first read or write error: a
// server that defends itself closes the connection.
//
// Never point it at a host you do not run.
package h2attack
