// Package embedded keeps chunk records in a bbolt database file: no external
// service, one box. Writes from concurrent requests share fsynced
// transactions (group commit, group.go): a lone write commits at once, and
// writes that arrive while a commit is in flight share the next one.
//
// The blocklist (NewBlocklist) and the abuse reports (NewReports) keep
// their own buckets in the same file.
package embedded
