// Package client is the file engine that apps and the xftp command use:
// Upload encrypts, pads and cuts a file into chunks and sends them to
// relays; Download fetches, verifies and decrypts them into a file; Delete
// removes them. It streams (memory stays bounded for any file size), runs
// chunks in parallel with a bound, and retries transient failures with
// backoff.
package client
