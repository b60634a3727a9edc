// Package disk stores chunk bodies as files under one directory, written
// atomically: a temporary file in the same directory is filled, checked for
// length, synced and renamed into place, and the rename is made durable
// before Put returns. Concurrent Puts share that last flush (a group
// commit, commit.go): on Linux one syncfs per round of Puts rather than one
// directory fsync per Put.
package disk
