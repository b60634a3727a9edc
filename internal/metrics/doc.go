// Package metrics exports a relay's Prometheus metrics: the service's
// counters (XFTP's set: chunks created, recipients, uploaded, downloaded,
// acknowledged, deleted, expired, blocked), stored chunks and bytes and quota
// use, request latency by operation and status, and the latency and errors
// of every storage backend call (through decorators around storage.Store and
// storage.Records), and the HTTP/2 connections closed for frame floods
// (internal/h2guard). No label ever holds an ID, key or address.
package metrics
