package redis

import goredis "github.com/redis/go-redis/v9"

// The scripts below are the only writers of a store's keys (see doc.go).
// Each touches the keys of one slot: a chunk's group (its record, the
// group's expiry index and sizes hash), the usage ledger, or one ID
// index entry. Those that return a status answer 0 for done,
// statusNotFound or statusExists or statusQuota.
const (
	statusOK       = 0
	statusNotFound = 1
	statusExists   = 2
	statusQuota    = 3
	// statusFirst answers markDownloadedScript for a recipient's first
	// completed download.
	statusFirst = 4
)

// createScript stores a new record, not yet complete (field c "0": Lookup
// ignores it until its ID index entries are all written).
//
//	KEYS: chunk, group expiry, group sizes
//	ARGV: internal key, size, expiry score, TTL deadline (unix ms), meta,
//	      recipient lines, sender hashed ID, uploaded ("0" or "1"),
//	      hashed sender key, body name
var createScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 then
	return 2
end
redis.call('HSET', KEYS[1], 'm', ARGV[5], 'r', ARGV[6], 'u', ARGV[8], 's', ARGV[7], 't', ARGV[4], 'k', ARGV[9], 'c', '0', 'b', ARGV[10])
for line in string.gmatch(ARGV[6], '[^\n]+') do
	redis.call('HSET', KEYS[1], 'p:' .. string.match(line, '^%S+'), line)
end
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
return 0
`)

// reserveScript counts a new record in the usage ledger if the quota
// allows (quota <= 0: no limit).
//
//	KEYS: usage
//	ARGV: size, quota
var reserveScript = goredis.NewScript(`
local quota = tonumber(ARGV[2])
if quota > 0 and tonumber(redis.call('HGET', KEYS[1], 'bytes') or '0') + tonumber(ARGV[1]) > quota then
	return 3
end
redis.call('HINCRBY', KEYS[1], 'chunks', 1)
redis.call('HINCRBY', KEYS[1], 'bytes', ARGV[1])
return 0
`)

// releaseScript takes a removed record out of the usage ledger.
//
//	KEYS: usage
//	ARGV: size
var releaseScript = goredis.NewScript(`
redis.call('HINCRBY', KEYS[1], 'chunks', -1)
redis.call('HINCRBY', KEYS[1], 'bytes', -tonumber(ARGV[1]))
return 0
`)

// unclaimScript deletes an ID index entry if it still holds the value
// given: it never removes another record's entry.
//
//	KEYS: id entry
//	ARGV: value
var unclaimScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0
`)

// setFieldScript sets one field of an existing record.
//
//	KEYS: chunk
//	ARGV: field, value
var setFieldScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then
	return 1
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 0
`)

// readScript reads a complete record. It answers nil if there is none,
// else {meta, recipients, uploaded, downloaded count, acked count, body
// name}.
//
//	KEYS: chunk
var readScript = goredis.NewScript(`
local rec = redis.call('HMGET', KEYS[1], 'm', 'r', 'u', 'nd', 'na', 'c', 'b')
if not rec[1] or rec[6] ~= '1' then
	return false
end
return {rec[1], rec[2] or '', rec[3] or '0', rec[4] or '0', rec[5] or '0', rec[7] or ''}
`)

// readRecipientScript reads a complete record without its recipient list,
// and the line of one recipient (field p:<hashed ID>), so that a
// recipient's lookup costs the same whatever the chunk's audience. It
// answers nil if there is no record, else {meta, line or "", uploaded,
// downloaded count, acked count, body name, has per-recipient fields}.
//
//	KEYS: chunk
//	ARGV: recipient hashed ID
var readRecipientScript = goredis.NewScript(`
local rec = redis.call('HMGET', KEYS[1], 'm', 'p:' .. ARGV[1], 'u', 'nd', 'na', 'c', 'b')
if not rec[1] or rec[6] ~= '1' then
	return false
end
return {rec[1], rec[2] or '', rec[3] or '0', rec[4] or '0', rec[5] or '0', rec[7] or ''}
`)

// setUploadedScript marks a record uploaded with its body name, unless it
// is already: it answers {0, the body name the record holds}, or {1} if
// there is no record.
//
//	KEYS: chunk
//	ARGV: body name
var setUploadedScript = goredis.NewScript(`
local rec = redis.call('HMGET', KEYS[1], 'u', 'b', 'm')
if not rec[3] then
	return {1}
end
if rec[1] == '1' then
	return {0, rec[2] or ''}
end
redis.call('HSET', KEYS[1], 'u', '1', 'b', ARGV[1])
return {0, ARGV[1]}
`)

// appendRecipientsScript appends recipient lines to a complete record and
// answers {0, TTL deadline}, or {1} if there is no such record.
//
//	KEYS: chunk
//	ARGV: recipient lines
var appendRecipientsScript = goredis.NewScript(`
local rec = redis.call('HMGET', KEYS[1], 'r', 't', 'c')
if not rec[2] or rec[3] ~= '1' then
	return {1}
end
redis.call('HSET', KEYS[1], 'r', (rec[1] or '') .. ARGV[1])
for line in string.gmatch(ARGV[1], '[^\n]+') do
	redis.call('HSET', KEYS[1], 'p:' .. string.match(line, '^%S+'), line)
end
return {0, rec[2]}
`)

// dropLinesScript undoes appendRecipientsScript: it removes the last
// occurrence of each line given.
//
//	KEYS: chunk
//	ARGV: lines...
var dropLinesScript = goredis.NewScript(`
local r = redis.call('HGET', KEYS[1], 'r')
if not r then
	return 1
end
for i = 1, #ARGV do
	local at, from = nil, 1
	while true do
		local s = string.find(r, ARGV[i], from, true)
		if not s then
			break
		end
		at, from = s, s + 1
	end
	if at then
		r = string.sub(r, 1, at - 1) .. string.sub(r, at + #ARGV[i])
	end
	redis.call('HDEL', KEYS[1], 'p:' .. string.match(ARGV[i], '^%S+'))
end
redis.call('HSET', KEYS[1], 'r', r)
return 0
`)

// removeRecipientScript drops one recipient line and its download flag,
// and counts the acknowledgement in field na. (Its ID index entry is
// removed beside it.)
//
//	KEYS: chunk
//	ARGV: recipient hashed ID
var removeRecipientScript = goredis.NewScript(`
local r = redis.call('HGET', KEYS[1], 'r')
if not r then
	return 1
end
local want = ARGV[1] .. ' '
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
redis.call('HDEL', KEYS[1], 'd:' .. ARGV[1], 'p:' .. ARGV[1])
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
if redis.call('HEXISTS', KEYS[1], 'p:' .. ARGV[1]) == 0 then
	-- A record written before recipients had their own fields: scan.
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
end
if redis.call('HSETNX', KEYS[1], 'd:' .. ARGV[1], '1') == 1 then
	redis.call('HINCRBY', KEYS[1], 'nd', 1)
	return 4
end
return 0
`)

// deleteScript removes a record and its group bookkeeping (its ID index
// entries and its ledger share go beside it). Its size is released once:
// only while its sizes entry exists. It answers nil if there is no record,
// else {meta, recipients, uploaded, size, expiry score, sender hashed ID,
// hashed sender key, body name}, with meta empty if the chunk key had already
// expired by TTL; with ARGV[2] "1" it keeps an uploaded record and
// answers {"uploaded"}.
//
//	KEYS: chunk, group expiry, group sizes
//	ARGV: internal key, only if not uploaded ("0" or "1")
var deleteScript = goredis.NewScript(`
local size = redis.call('HGET', KEYS[3], ARGV[1])
local rec = redis.call('HMGET', KEYS[1], 'm', 'r', 'u', 's', 'k', 'b')
if not size and not rec[1] then
	redis.call('ZREM', KEYS[2], ARGV[1]) -- a stale expiry entry: drop it
	return false
end
if ARGV[2] == '1' and rec[3] == '1' then
	return {'uploaded'} -- DeleteUnuploaded of an uploaded record: keep it
end
redis.call('DEL', KEYS[1])
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return {rec[1] or '', rec[2] or '', rec[3] or '', size or '', score or '', rec[4] or '', rec[5] or '', rec[6] or ''}
`)

// expiredScript lists up to limit records of one group due by now, seven
// fields each: internal key, expiry score, size, meta, recipients,
// uploaded, body name; the last four are empty if the chunk key has
// expired by TTL.
//
//	KEYS: group expiry, group sizes
//	ARGV: now (unix ms), limit, chunk key prefix of the group
var expiredScript = goredis.NewScript(`
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[2])
local out = {}
for i = 1, #due, 2 do
	local k = due[i]
	local rec = redis.call('HMGET', ARGV[3] .. k, 'm', 'r', 'u', 'b')
	local n = #out
	out[n + 1] = k
	out[n + 2] = due[i + 1]
	out[n + 3] = redis.call('HGET', KEYS[2], k) or ''
	out[n + 4] = rec[1] or ''
	out[n + 5] = rec[2] or ''
	out[n + 6] = rec[3] or ''
	out[n + 7] = rec[4] or ''
end
return out
`)

var allScripts = []*goredis.Script{
	createScript, setUploadedScript, reserveScript, releaseScript, unclaimScript, setFieldScript, readScript,
	appendRecipientsScript, dropLinesScript, removeRecipientScript, markDownloadedScript,
	deleteScript, expiredScript,
}
