// Package redis keeps chunk records in Redis, so that several relay
// replicas share one view of chunks, IDs and quota. It works with one
// server, a Sentinel-managed master or a Redis Cluster (NewClient builds
// the go-redis client for each), and on a cluster it spreads the records
// over every master. The blocklist (NewBlocklist, blocklist.go) and the
// abuse reports (NewReports, reports.go) live here too, under prefixes of
// their own.
//
// # Keys
//
// All keys start with the prefix given to Open (P below), which must not
// hold a hash tag: the keys carry their own. A chunk belongs to one of 1024
// groups, chosen from its internal key (slots.go); group g's keys carry
// the tag {T}, a short string whose slot lies in g's sixteenth of the
// 16384 slots, so the groups, and with them the records, spread evenly over
// the masters:
//
//	P{T}:c:<internal key>  hash: the record
//	    m  immutable fields, JSON (sender ID and key, size, digest, times)
//	    r  recipients, one line each: "<hashed ID> <base64url ID> <base64url key>\n"
//	    u  "1" once the body is uploaded, else "0"
//	    c  "1" once the record is complete (all its index entries written)
//	    s  the sender's hashed ID, k the hashed sender key (for Delete)
//	    t  when the Redis TTLs of this record's keys fire (unix ms)
//	    nd recipient IDs that completed a download (each counted once)
//	    na recipient IDs removed by acknowledgement
//	    d:<hashed ID>  "1" once that recipient downloaded (removed at ack)
//	P{T}:expiry            sorted set: member internal key, score ExpiresAt (unix ms, rounded up)
//	P{T}:sizes             hash: internal key -> size in bytes
//
// Index entries, each in its own slot (the slot of its whole name):
//
//	P id:<base64url(SHA-256(ID))>           role byte (1 sender, 2 recipient) || internal key
//	P skey:<base64url(SHA-256(sender key))> 1 || internal key (BySenderKey: retried creates)
//
// and one ledger for the whole store:
//
//	P usage                hash: chunks, bytes (totals over every group's sizes)
//
// Sender and recipient IDs are hashed so that key names (in SCAN, MONITOR,
// slow logs, RDB dumps) do not show wire IDs; the IDs themselves are still
// inside the record, as Lookup must return them.
//
// # Atomicity and round trips
//
// Every script touches the keys of one slot: a record and its group's
// bookkeeping change together, atomically, as on one server. What spans
// slots is ordered so that no reader sees a half-made change:
//
//   - Create: one pipelined round trip (on a cluster, one per master, in
//     parallel) writes the record with c "0", reserves its size in the
//     ledger and claims its index entries (SET NX); a second sets c "1".
//     Lookup and BySenderKey ignore a record without c "1". If anything
//     fails (an ID or the sender key taken, the quota spent, a node down),
//     what was written is removed again, within a deadline, even if the
//     caller has gone. A sender key whose entry points at a record that is
//     gone or was left incomplete for over a minute is taken over.
//   - Lookup and BySenderKey: two round trips, the index entry and then the
//     record.
//   - AddRecipients: append the lines, then claim the IDs; undone if one is
//     taken. RemoveRecipient: the line and its entry in one round trip.
//   - Delete: the record and its group bookkeeping in one script, then
//     (one round trip) its index entries and its share of the ledger.
//   - SetUploaded, MarkDownloaded, Has: one round trip.
//
// # The quota ledger
//
// A quota over all chunks needs one total; it is the one key every create
// and delete touches (one small script each: reserve, release), on one
// master. That bounds the store at the rate one Redis core runs those
// scripts (tens of thousands a second, measured in docs/SCALING.md),
// far above what the chunk store behind a relay takes; everything else
// spreads. The ledger is not in a record's slot, so a crash or a lost
// connection between a record's change and the ledger's leaves the
// ledger off by that record's size: too high after a failed create's
// clean-up (the quota is reached early, never exceeded), too high or low
// by at most the records in flight when a Delete was cut off.
//
// # Expiry and the safety-net TTLs
//
// The index entries and the record get a Redis TTL an hour past the
// record's ExpiresAt (or past its creation, if that is later), so that
// records are dropped even if no sweeper ever runs. The expiry sorted sets
// and the sizes hashes have no TTL: they are the source of truth for which
// records exist and what quota they hold. Expired asks the groups in
// batches of 64 per round trip. Hence:
//
//   - If the chunk key has expired by TTL but the sweeper has not yet
//     deleted the record, Expired still returns it, with Key, Size and
//     ExpiresAt (to the millisecond) set and the other fields empty, so its
//     body is deleted; Delete then releases its quota from the sizes hash,
//     removes it from the sorted set and returns the same partial record.
//   - Lookup of an ID whose chunk key is gone reports ErrNotFound, even if
//     the id key itself has not fired yet (Redis expires keys one by one).
//   - Has reports the record as long as it holds quota (its sizes entry),
//     so the orphan sweeper leaves its body to the expiry sweeper.
//   - Redis must run with maxmemory-policy noeviction: evicting the sizes
//     hash or the sorted set would lose quota and expiry bookkeeping, and
//     evicting chunk keys early would lose live records.
//
// Delete releases quota only through the sizes entry, so a record's bytes
// are released exactly once even when two replicas delete it at once.
//
// # Earlier layout
//
// Records written before the cluster layout (all under one hash tag,
// "{xftp}:chunk:..." for prefix "xftp:") are moved into it by Open on a
// single-node deployment (migrate.go).
//
// # Replicas
//
// With an Acker (Records.SetAcker, Blocklist.SetAcker, Reports.SetAcker) a
// write an acknowledgement depends on returns only once replicas of its
// master hold it (WAIT on a connection of the Acker's own, after a marker
// write: see Acker), so that a master killed just after answering loses
// none of it; otherwise it fails as storage.ErrUnavailable. The ledger,
// download counts and nonces are not waited for.
//
// # Clients
//
// A single-node client pointed at a cluster node is refused at Open (it
// would get MOVED for two thirds of the keys), as is a cluster client at a
// server without cluster support. Ping, behind /readyz, writes: it fails on
// a replica (READONLY), and on a cluster unless every master answers and
// reports cluster_state:ok (not CLUSTERDOWN). The cluster client re-reads
// the slot map every ClusterStateReload, and at once on MOVED.
//
// Errors: redis.Nil and missing records are storage.ErrNotFound; connection
// failures, timeouts and Redis' LOADING, MASTERDOWN, CLUSTERDOWN, TRYAGAIN,
// READONLY, MOVED, ASK and OOM answers wrap storage.ErrUnavailable.
package redis
