// Package server is the relay's service logic, kept apart from its HTTP
// binding (package api): the chunk lifecycle (create, upload, add
// recipients, download with per-request re-encryption, acknowledge,
// delete), request authorization, quotas, expiry and the sweepers that
// remove expired and orphaned bodies.
//
// It depends on interfaces only (storage.Store, storage.Records, Nonces),
// so the same Service runs on the embedded default and on S3 + Redis.
package server
