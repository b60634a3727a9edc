// Package onion is the wire format of receiving proxies (docs/PROXY.md):
// the layers a client seals, one to each proxy's X25519 proxy key, and the
// framing of the answers that travel back, each hop sealing what it relays
// under a fresh response key from its layer. It holds formats and
// cryptography only, no network code.
//
// testdata/vectors.json, made from docs/PROXY.md by an independent
// implementation (testdata/gen/gen.mjs, Node's own crypto), holds every
// part of the format; the tests read and write it byte for byte.
package onion
