// Package identity holds a server's long-term Ed25519 identity: creating and
// loading the key, its fingerprint (what clients pin), the self-signed TLS
// certificate bound to it, and the signed identity challenge used when TLS
// is terminated by a reverse proxy.
package identity
