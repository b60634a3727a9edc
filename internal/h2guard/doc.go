// Package h2guard limits the HTTP/2 frames a client may make a server
// handle, per connection, and closes the connections of clients that flood.
//
// Go's HTTP/2 server bounds rapid reset (streams the client resets before
// their handlers start), PINGs the client leaves unread, and CONTINUATION
// floods, but nothing else: a client that reads what it is sent may make
// the server handle SETTINGS, PING, PRIORITY, WINDOW_UPDATE and empty DATA
// frames as fast as it can write them, and may make the server reset its
// own streams (MadeYouReset, CVE-2025-8671) while their handlers still
// run. Limits, like Envoy's, bound each kind by the work the connection
// does: the streams it opens and the DATA the server sends it.
//
// A Conn wraps the server's side of a connection, above TLS. It reads the
// frame headers of both directions as they pass (payloads are skipped, not
// copied; the client preface is checked by the server, not here), and when
// a limit is passed it sends GOAWAY ENHANCE_YOUR_CALM if it can do so at a
// frame boundary, closes the connection, counts it and logs it (never the
// peer's address). Install puts it under an http.Server's HTTP/2, for TLS
// (including ALPNs routed to "h2") and for h2c with prior knowledge.
package h2guard
