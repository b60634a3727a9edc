// Package storage defines where a relay keeps what it is given: chunk bodies
// (Store) and chunk records (Records). Backends live in subpackages — disk
// and embedded (bbolt) for the single-box default, s3 and redis for
// scale-out — and each passes the contract suites in storagetest.
//
// Bodies are named by a record's internal Key, a random value that never
// appears on the wire, so a listing of the body store cannot link a chunk's
// sender ID to its recipient IDs.
package storage
