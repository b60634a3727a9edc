// Package recv is the logic of the browser download page (web/), compiled
// to WebAssembly by web/wasm: it parses the link in the page's URL
// fragment, verifies each relay's identity by signed challenge, signs the
// download requests with the recipient keys, checks the relay's signed
// download key, removes the per-download transport encryption and opens
// the chunks with chunk.Opener, and verifies blocking records.
//
// It does no I/O: the page's JavaScript makes the fetch() calls that recv
// prepares and pushes the response bodies into a Download, and it writes
// the plaintext that Session.TakeWrites hands back. So recv builds and is
// tested natively as well as for GOOS=js GOARCH=wasm. It speaks the wire
// through its vocabulary, package api (addresses, request signing, codes),
// and shares the formats through chunk, blocklist, identity,
// internal/dlcrypt and internal/stream; it links nothing of the server.
//
// Keys never leave recv: JavaScript sees request URLs, headers and bodies,
// and plaintext.
package recv
