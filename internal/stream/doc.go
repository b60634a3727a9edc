// Package stream implements STREAM (Hoang, Reyhanitabar, Rogaway, Vizár:
// "Online Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance")
// over AES-256-GCM: a plaintext is cut into fixed-size segments, each sealed
// with a nonce made of an 88-bit big-endian segment counter and a one-byte
// "last segment" flag. Reordering, dropping, truncating or extending segments
// is detected.
//
// Both the file encryption of package chunk and the per-download transport
// encryption of the server use it. Every key must be used for one stream only.
package stream
