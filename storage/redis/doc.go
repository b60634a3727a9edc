// Package redis keeps chunk records in Redis, so that several relay
// replicas share one view of chunks, IDs and quota.
//
// # Keys
//
// All keys start with the prefix given to Open (P below):
//
//	P id:<base64url(SHA-256(ID))>  string: role byte (1 sender, 2 recipient) || internal key
//	P skey:<base64url(SHA-256(sender key))>  string: 1 || internal key (BySenderKey: retried creates)
//	P chunk:<internal key>         hash: the record
//	    m  immutable fields, JSON (sender ID and key, size, digest, times)
//	    r  recipients, one line each: "<hashed ID> <base64url ID> <base64url key>\n"
//	    u  "1" once the body is uploaded, else "0"
//	    s  the sender's hashed ID (so a script can delete its id key)
//	    k  the hashed sender key (likewise, for its skey key)
//	    t  when the Redis TTLs of this record's keys fire (unix ms)
//	    nd recipient IDs that completed a download (each counted once)
//	    na recipient IDs removed by acknowledgement
//	    d:<hashed ID>  "1" once that recipient downloaded (removed at ack)
//	P expiry                       sorted set: member internal key, score ExpiresAt (unix ms, rounded up)
//	P sizes                        hash: internal key -> size in bytes
//	P usage                        hash: chunks, bytes (totals over P sizes)
//
// Sender and recipient IDs are hashed so that key names (in SCAN, MONITOR,
// slow logs, RDB dumps) do not show wire IDs; the IDs themselves are still
// inside the record, as Lookup must return them.
//
// # Atomicity
//
// Every mutation is one Lua script (EVALSHA), so the quota check and
// counter update in Create, and all multi-key changes, are atomic across
// replicas. Lookup is one script too: one round trip resolves the ID key and
// reads the record. Under Redis Cluster (or a Ring) all keys of a store must
// live in one slot, so the prefix must carry a hash tag, e.g. "{xftp}:";
// Open refuses a prefix without one on such clients.
//
// # Expiry and the safety-net TTLs
//
// The id and chunk keys get a Redis TTL an hour past the record's ExpiresAt
// (or past its creation, if that is later), so that records are dropped
// even if no sweeper ever runs. The expiry sorted set and the sizes hash
// have no TTL: they are the source of truth for which records exist and
// what quota they hold. Hence:
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
// Errors: redis.Nil and missing records are storage.ErrNotFound; connection
// failures, timeouts and Redis' LOADING, MASTERDOWN, CLUSTERDOWN, TRYAGAIN,
// READONLY and OOM answers wrap storage.ErrUnavailable.
package redis
