// Package embedded keeps chunk records in a bbolt database file: no external
// service, one box. Writes from concurrent requests are batched into shared
// fsynced transactions.
package embedded
