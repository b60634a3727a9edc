// Package s3 stores chunk bodies as objects in an S3-compatible bucket
// (AWS S3, MinIO, ...) through minio-go, so that several relay replicas can
// share one body store.
//
// Each body is one object named Config.Prefix + internal key, written with a
// single PUT of known length: S3 makes a PUT visible only once the whole body
// has arrived, so a body whose reader fails, runs short or whose context ends
// never appears, and an earlier object under the same name stays as it was.
// Multipart uploads are disabled: chunks are a few MiB, and a multipart
// upload would cost three extra round trips and leave half-finished uploads
// behind on failure.
//
// Open checks the credentials and the bucket, so that a misconfigured
// relay fails at start-up; Store.Ping is the readiness probe.
//
// Errors that mean the service cannot be reached right now (connection
// refused or reset, timeouts, 5xx answers such as SlowDown) wrap
// storage.ErrUnavailable; a missing object is storage.ErrNotFound.
package s3
