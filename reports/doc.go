// Package reports keeps abuse reports for moderators.
//
// Anyone holding a recipient description can report its chunks to the
// server that stores them (see docs/TAKEDOWNS.md). The server files one
// Report per chunk: later reports of the same chunk are merged into it, so
// a flood of reports about one chunk is one entry with a count. A report
// holds what a moderator needs and nothing about the reporter: the reasons
// given, contacts only where the reporter gave one, times and counts. It
// keeps the chunk's sender ID, so that a moderator can block the chunk in
// one step, but the admin API never shows it. A report expires with its
// chunk.
//
// Store has an embedded backend in storage/embedded, which shares the
// records database file, and a Redis backend in storage/redis; this
// package holds no database code. Package reportstest holds the contract
// suite both run.
package reports
