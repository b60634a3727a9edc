// Package server is the relay's service logic, kept apart from its
// protocol bindings (api/httpserver, the native HTTP/2 protocol, and the
// SimpleX XFTP binding beside it): the chunk lifecycle (create, upload,
// add recipients, download with per-request re-encryption, acknowledge,
// delete, status, abuse reports), request authorization, quotas, expiry
// and the sweepers that remove expired and orphaned bodies. Service is
// that data plane; Moderation (blocks, reports, appeals) is a type of its
// own, given to the operator's admin API only.
//
// It depends on interfaces only (storage.Store, storage.Records, Nonces,
// blocklist.Store, reports.Store), so the same Service runs on the
// embedded default and on S3 + Redis. It never imports api.
package server
