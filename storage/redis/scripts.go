package redis

import goredis "github.com/redis/go-redis/v9"

// The scripts below are the only writers of a store's keys (see doc.go).
// Those that return a status answer 0 for done, statusNotFound or
// statusExists or statusQuota. Keys a script derives from a record (the
// chunk key in lookup, id keys in delete) share the prefix and so, under a
// cluster, its hash tag and slot.
const (
	statusOK       = 0
	statusNotFound = 1
	statusExists   = 2
	statusQuota    = 3
	// statusFirst answers markDownloadedScript for a recipient's first
	// completed download.
	statusFirst = 4
)

// createScript stores a new record.
//
//	KEYS: chunk, expiry, sizes, usage, sender key, sender id, recipient ids...
//	ARGV: internal key, size, quota, expiry score, TTL deadline (unix ms),
//	      meta, recipient lines, sender hashed ID, uploaded ("0" or "1"),
//	      hashed sender key
var createScript = goredis.NewScript(`
local size, quota = tonumber(ARGV[2]), tonumber(ARGV[3])
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 then
	return 2
end
local seen = {}
for i = 5, #KEYS do
	if seen[KEYS[i]] or redis.call('EXISTS', KEYS[i]) == 1 then
		return 2
	end
	seen[KEYS[i]] = true
end
if quota > 0 and tonumber(redis.call('HGET', KEYS[4], 'bytes') or '0') + size > quota then
	return 3
end
redis.call('HSET', KEYS[1], 'm', ARGV[6], 'r', ARGV[7], 'u', ARGV[9], 's', ARGV[8], 't', ARGV[5], 'k', ARGV[10])
redis.call('PEXPIREAT', KEYS[1], ARGV[5])
redis.call('SET', KEYS[5], '\1' .. ARGV[1], 'PXAT', ARGV[5])
redis.call('SET', KEYS[6], '\1' .. ARGV[1], 'PXAT', ARGV[5])
for i = 7, #KEYS do
	redis.call('SET', KEYS[i], '\2' .. ARGV[1], 'PXAT', ARGV[5])
end
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
redis.call('HINCRBY', KEYS[4], 'chunks', 1)
redis.call('HINCRBY', KEYS[4], 'bytes', ARGV[2])
return 0
`)

// lookupScript resolves an ID and reads its record in one round trip. It
// answers nil if either is missing, else {id value, meta, recipients,
// uploaded, downloaded count, acked count}.
//
//	KEYS: id
//	ARGV: prefix
var lookupScript = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then
	return false
end
local rec = redis.call('HMGET', ARGV[1] .. 'chunk:' .. string.sub(v, 2), 'm', 'r', 'u', 'nd', 'na')
if not rec[1] then
	return false
end
return {v, rec[1], rec[2] or '', rec[3] or '0', rec[4] or '0', rec[5] or '0'}
`)

// addRecipientsScript adds recipient ID keys and lines, all or none.
//
//	KEYS: chunk, new recipient ids...
//	ARGV: internal key, recipient lines
var addRecipientsScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then
	return 1
end
local seen = {}
for i = 2, #KEYS do
	if seen[KEYS[i]] or redis.call('EXISTS', KEYS[i]) == 1 then
		return 2
	end
	seen[KEYS[i]] = true
end
local t = redis.call('HGET', KEYS[1], 't')
for i = 2, #KEYS do
	redis.call('SET', KEYS[i], '\2' .. ARGV[1], 'PXAT', t)
end
redis.call('HSET', KEYS[1], 'r', (redis.call('HGET', KEYS[1], 'r') or '') .. ARGV[2])
return 0
`)

// setUploadedScript marks a record's body as stored.
//
//	KEYS: chunk
var setUploadedScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then
	return 1
end
redis.call('HSET', KEYS[1], 'u', '1')
return 0
`)

// removeRecipientScript drops one recipient line and its ID key, and
// its download flag, and counts the acknowledgement in field na.
//
//	KEYS: chunk, recipient id
//	ARGV: internal key, recipient hashed ID
var removeRecipientScript = goredis.NewScript(`
local r = redis.call('HGET', KEYS[1], 'r')
if not r then
	return 1
end
local want = ARGV[2] .. ' '
local kept, found = {}, false
for line in string.gmatch(r, '[^\n]+') do
	if string.sub(line, 1, #want) == want then
		found = true
	else
		kept[#kept + 1] = line .. '\n'
	end
end
if not found then
	return 1
end
redis.call('HSET', KEYS[1], 'r', table.concat(kept))
redis.call('HINCRBY', KEYS[1], 'na', 1)
redis.call('HDEL', KEYS[1], 'd:' .. ARGV[2])
if string.sub(redis.call('GET', KEYS[2]) or '', 2) == ARGV[1] then
	redis.call('DEL', KEYS[2])
end
return 0
`)

// markDownloadedScript sets a recipient's download flag (field
// d:<hashed ID>) and, the first time, counts it in field nd. It answers
// statusFirst for a first download, 0 for a repeated one, statusNotFound
// if the record or the recipient is gone.
//
//	KEYS: chunk
//	ARGV: recipient hashed ID
var markDownloadedScript = goredis.NewScript(`
local r = redis.call('HGET', KEYS[1], 'r')
if not r then
	return 1
end
local want = ARGV[1] .. ' '
local found = false
for line in string.gmatch(r, '[^\n]+') do
	if string.sub(line, 1, #want) == want then
		found = true
		break
	end
end
if not found then
	return 1
end
if redis.call('HSETNX', KEYS[1], 'd:' .. ARGV[1], '1') == 1 then
	redis.call('HINCRBY', KEYS[1], 'nd', 1)
	return 4
end
return 0
`)

// deleteScript removes a record, its ID keys and its bookkeeping, and
// releases its quota (once: only while its sizes entry exists). It answers
// nil if there is no record, else {meta, recipients, uploaded, size, expiry
// score}, with meta empty if the chunk key had already expired by TTL; with
// ARGV[3] "1" it keeps an uploaded record and answers {"uploaded"}.
//
//	KEYS: chunk, expiry, sizes, usage
//	ARGV: internal key, prefix, only if not uploaded ("0" or "1")
var deleteScript = goredis.NewScript(`
local size = redis.call('HGET', KEYS[3], ARGV[1])
local rec = redis.call('HMGET', KEYS[1], 'm', 'r', 'u', 's', 'k')
if not size and not rec[1] then
	redis.call('ZREM', KEYS[2], ARGV[1]) -- a stale expiry entry: drop it
	return false
end
if ARGV[3] == '1' and rec[3] == '1' then
	return {'uploaded'} -- DeleteUnuploaded of an uploaded record: keep it
end
local function delID(kind, hid)
	local k = ARGV[2] .. kind .. hid
	if string.sub(redis.call('GET', k) or '', 2) == ARGV[1] then
		redis.call('DEL', k)
	end
end
if rec[1] then
	if rec[4] then
		delID('id:', rec[4])
	end
	if rec[5] then
		delID('skey:', rec[5])
	end
	for line in string.gmatch(rec[2] or '', '[^\n]+') do
		delID('id:', string.match(line, '^[^ ]+'))
	end
	redis.call('DEL', KEYS[1])
end
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if size then
	redis.call('HDEL', KEYS[3], ARGV[1])
	redis.call('HINCRBY', KEYS[4], 'chunks', -1)
	redis.call('HINCRBY', KEYS[4], 'bytes', '-' .. size)
end
return {rec[1] or '', rec[2] or '', rec[3] or '', size or '', score or ''}
`)

// expiredScript lists up to limit records due by now, six fields each:
// internal key, expiry score, size, meta, recipients, uploaded; the last
// three are empty if the chunk key has expired by TTL.
//
//	KEYS: expiry, sizes
//	ARGV: now (unix ms), limit, prefix
var expiredScript = goredis.NewScript(`
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[2])
local out = {}
for i = 1, #due, 2 do
	local k = due[i]
	local rec = redis.call('HMGET', ARGV[3] .. 'chunk:' .. k, 'm', 'r', 'u')
	local n = #out
	out[n + 1] = k
	out[n + 2] = due[i + 1]
	out[n + 3] = redis.call('HGET', KEYS[2], k) or ''
	out[n + 4] = rec[1] or ''
	out[n + 5] = rec[2] or ''
	out[n + 6] = rec[3] or ''
end
return out
`)

var allScripts = []*goredis.Script{
	createScript, lookupScript, addRecipientsScript, setUploadedScript,
	removeRecipientScript, deleteScript, expiredScript, markDownloadedScript,
}
