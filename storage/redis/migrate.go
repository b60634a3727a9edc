package redis

import (
	"context"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// Records written before the cluster layout lived under one hash tag,
// P' = "{" + prefix without its trailing ':' + "}:" (the default "{xftp}:"):
//
//	P'chunk:<key>  the record (fields as now, without c and b)
//	P'id:<hid>, P'skey:<hk>  index entries (values as now)
//	P'expiry, P'sizes, P'usage  one expiry set, sizes hash and ledger
//
// migrate moves them into the current layout when Open finds them on a
// single-node deployment (a cluster never held them: it was not
// supported). Each record is copied, complete, with its TTL, then its old
// keys are deleted; the ledger's totals are added once (a script moves and
// deletes the old ledger atomically). Several replicas migrating at once
// copy the same values; a record a replica has already moved is skipped.
func (r *Records) migrate(ctx context.Context) (int, error) {
	if r.cluster {
		return 0, nil
	}
	old := "{" + strings.TrimSuffix(r.prefix, ":") + "}:"
	moved := 0
	for {
		keys, err := r.client.ZRange(ctx, old+"expiry", 0, 255).Result()
		if err != nil {
			return moved, translate("migrate", err)
		}
		if len(keys) == 0 {
			break
		}
		for _, key := range keys {
			if err := r.migrateOne(ctx, old, key); err != nil {
				return moved, err
			}
			moved++
		}
	}
	n, err := r.client.Exists(ctx, old+"usage").Result()
	if err != nil {
		return moved, translate("migrate", err)
	}
	if n == 0 && moved == 0 {
		return 0, nil // nothing of the old layout: the usual case
	}
	if err := migrateLedgerScript.Run(ctx, r.client, []string{old + "usage", r.usage}).Err(); err != nil {
		return moved, translate("migrate", err)
	}
	return moved, r.migrateIDs(ctx)
}

// migrateOne moves one record (see migrate).
func (r *Records) migrateOne(ctx context.Context, old, key string) error {
	gk := r.groupKeys(key)
	err := migrateRecordScript.Run(ctx, r.client,
		[]string{old + "chunk:" + key, old + "expiry", old + "sizes", gk[0], gk[1], gk[2]}, key).Err()
	if err != nil && err != goredis.Nil {
		return translate("migrate", err)
	}
	return nil
}

// migrateRecordScript copies one old-layout record and its bookkeeping into
// its group, marks it complete, and removes the old ones (the index
// entries are renamed by migrateIDs).
//
//	KEYS: old chunk, old expiry, old sizes, new chunk, group expiry, group sizes
//	ARGV: internal key
var migrateRecordScript = goredis.NewScript(`
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
local size = redis.call('HGET', KEYS[3], ARGV[1])
local fields = redis.call('HGETALL', KEYS[1])
if #fields > 0 and redis.call('EXISTS', KEYS[4]) == 0 then
	local t = nil
	for i = 1, #fields, 2 do
		if fields[i] == 't' then t = fields[i + 1] end
	end
	redis.call('HSET', KEYS[4], unpack(fields))
	redis.call('HSET', KEYS[4], 'c', '1')
	if t then redis.call('PEXPIREAT', KEYS[4], t) end
end
if score and not redis.call('ZSCORE', KEYS[5], ARGV[1]) then
	redis.call('ZADD', KEYS[5], score, ARGV[1])
end
if size then
	redis.call('HSET', KEYS[6], ARGV[1], size)
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return 0
`)

// migrateLedgerScript adds the old ledger's totals to the new one and
// deletes it, once.
//
//	KEYS: old usage, new usage
var migrateLedgerScript = goredis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'chunks', 'bytes')
if v[1] then redis.call('HINCRBY', KEYS[2], 'chunks', v[1]) end
if v[2] then redis.call('HINCRBY', KEYS[2], 'bytes', v[2]) end
redis.call('DEL', KEYS[1])
return 0
`)

// migrateIDs renames the old index entries (P'id:*, P'skey:*) to the
// current names, keeping value and TTL. They are found by SCAN: a
// single-node deployment's key space.
func (r *Records) migrateIDs(ctx context.Context) error {
	if r.cluster {
		return nil
	}
	old := "{" + strings.TrimSuffix(r.prefix, ":") + "}:"
	for _, kind := range []string{"id:", "skey:"} {
		iter := r.client.Scan(ctx, 0, old+kind+"*", 1000).Iterator()
		for iter.Next(ctx) {
			name := iter.Val()
			err := renameKeepScript.Run(ctx, r.client, []string{name, r.prefix + strings.TrimPrefix(name, old)}).Err()
			if err != nil && err != goredis.Nil {
				return translate("migrate", err)
			}
		}
		if err := iter.Err(); err != nil {
			return translate("migrate", err)
		}
	}
	return nil
}

// renameKeepScript moves a string key to a new name unless that exists.
//
//	KEYS: old, new
var renameKeepScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then
	return 0
end
if redis.call('EXISTS', KEYS[2]) == 0 then
	redis.call('RENAME', KEYS[1], KEYS[2])
else
	redis.call('DEL', KEYS[1])
end
return 1
`)
