// Package disk stores chunk bodies as files under one directory, written
// atomically: a temporary file in the same directory is filled, checked for
// length, synced and renamed into place, and the directory is synced.
package disk
