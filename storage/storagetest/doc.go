// Package storagetest holds the contract suites that every storage.Store and
// storage.Records backend must pass. Backends call them from their tests.
package storagetest
