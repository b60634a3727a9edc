package redis

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/xftp/xftp/reports"
)

// Reports is a Store in Reports. Keys, under the prefix:
//
//	report:<hex ID>        hash: k chunk key, s sender ID (base64url),
//	                       n count, f/l first/last (unix ms), e expiry
//	                       (unix ms), r:<reason> count per reason, nr
//	                       distinct reasons, c:<contact> its position,
//	                       nc contacts kept
//	report_chunk:<chunk key>  string: hex ID of the chunk's report
//	reports                sorted set, every member at score 0: hex IDs,
//	                       in lexicographic (= age) order for List
//
// The hash and the chunk key carry the chunk's expiry as their Reports TTL.
// Members of the sorted set whose hash has gone are dropped by List. Add
// is one Lua script, so merging is atomic across replicas.
type Reports struct {
	client goredis.UniversalClient
	prefix string
	ack    *Acker
}

// SetAcker makes Add and Delete wait for a's replicas (see Acker). Call it
// before the first use.
func (s *Reports) SetAcker(a *Acker) { s.ack = a }

var _ reports.Store = (*Reports)(nil)

// NewReports returns a store using client, with every key name starting with
// prefix. Under Reports Cluster the prefix must carry a hash tag. The
// caller keeps ownership of client.
func NewReports(client goredis.UniversalClient, prefix string) *Reports {
	return &Reports{client: client, prefix: prefix}
}

func (s *Reports) reportKey(hexID string) string { return s.prefix + "report:" + hexID }
func (s *Reports) indexKey() string              { return s.prefix + "reports" }

// addReportScript files one submission.
//
//	KEYS: report_chunk:<chunk key>, reports index
//	ARGV: prefix, new hex ID, chunk key, sender ID, reason, contact, at
//	      (ms), expiry (ms), max contacts, max reasons
//
// It answers {hex ID, 1 if new else 0}.
var addReportScript = goredis.NewScript(`
local id = redis.call('GET', KEYS[1])
local created = 0
if id and redis.call('EXISTS', ARGV[1] .. 'report:' .. id) == 0 then
	id = false
end
if not id then
	id = ARGV[2]
	created = 1
	local k = ARGV[1] .. 'report:' .. id
	redis.call('HSET', k, 'k', ARGV[3], 's', ARGV[4], 'n', 0, 'f', ARGV[7], 'l', ARGV[7], 'e', ARGV[8], 'nr', 0, 'nc', 0)
	redis.call('SET', KEYS[1], id, 'PXAT', ARGV[8])
	redis.call('ZADD', KEYS[2], 0, id)
end
local k = ARGV[1] .. 'report:' .. id
redis.call('HINCRBY', k, 'n', 1)
local reason = ARGV[5]
if redis.call('HEXISTS', k, 'r:' .. reason) == 0 and tonumber(redis.call('HGET', k, 'nr')) >= tonumber(ARGV[10]) then
	reason = 'other'
end
if redis.call('HINCRBY', k, 'r:' .. reason, 1) == 1 then
	redis.call('HINCRBY', k, 'nr', 1)
end
if ARGV[6] ~= '' and redis.call('HEXISTS', k, 'c:' .. ARGV[6]) == 0 then
	local nc = tonumber(redis.call('HGET', k, 'nc'))
	if nc < tonumber(ARGV[9]) then
		redis.call('HSET', k, 'c:' .. ARGV[6], nc)
		redis.call('HINCRBY', k, 'nc', 1)
	end
end
if tonumber(ARGV[7]) > tonumber(redis.call('HGET', k, 'l')) then
	redis.call('HSET', k, 'l', ARGV[7])
end
redis.call('PEXPIREAT', k, redis.call('HGET', k, 'e'))
return {id, created}
`)

// Add implements Store.
func (s *Reports) Add(ctx context.Context, sub reports.Submission) (*reports.Report, bool, error) {
	if err := sub.Validate(); err != nil {
		return nil, false, err
	}
	at := sub.At.Truncate(time.Millisecond)
	v, err := addReportScript.Run(ctx, s.client, []string{s.prefix + "report_chunk:" + sub.ChunkKey, s.indexKey()},
		s.prefix, hex.EncodeToString(reports.NewID(at)), sub.ChunkKey, base64.RawURLEncoding.EncodeToString(sub.SenderID),
		sub.Reason, sub.Contact, at.UnixMilli(), sub.ExpiresAt.UnixMilli(), reports.MaxContacts, reports.MaxReasons).Slice()
	if err != nil {
		return nil, false, fmt.Errorf("reports: redis: %w", err)
	}
	if len(v) != 2 {
		return nil, false, errors.New("reports: redis: unexpected answer")
	}
	if err := s.ack.Ack(ctx, s.indexKey()); err != nil {
		return nil, false, fmt.Errorf("reports: %w", err)
	}
	hexID, _ := v[0].(string)
	created, _ := v[1].(int64)
	id, err := hex.DecodeString(hexID)
	if err != nil {
		return nil, false, errors.New("reports: redis: corrupt report ID")
	}
	r, err := s.Get(ctx, id)
	if err != nil {
		return nil, false, err
	}
	return r, created == 1, nil
}

// Get implements Store.
func (s *Reports) Get(ctx context.Context, id []byte) (*reports.Report, error) {
	if len(id) != reports.IDSize {
		return nil, reports.ErrNotFound
	}
	h, err := s.client.HGetAll(ctx, s.reportKey(hex.EncodeToString(id))).Result()
	if err != nil {
		return nil, fmt.Errorf("reports: redis: %w", err)
	}
	if len(h) == 0 {
		return nil, reports.ErrNotFound
	}
	return decodeHash(id, h)
}

func decodeHash(id []byte, h map[string]string) (*reports.Report, error) {
	ms := func(f string) time.Time {
		n, _ := strconv.ParseInt(h[f], 10, 64)
		return time.UnixMilli(n)
	}
	sender, err := base64.RawURLEncoding.DecodeString(h["s"])
	if err != nil || h["k"] == "" {
		return nil, errors.New("reports: redis: corrupt report")
	}
	r := &reports.Report{ID: id, ChunkKey: h["k"], SenderID: sender, Reasons: map[string]int{},
		FirstAt: ms("f"), LastAt: ms("l"), ExpiresAt: ms("e")}
	r.Count, _ = strconv.Atoi(h["n"])
	contacts := make([]string, reports.MaxContacts)
	for f, v := range h {
		switch {
		case strings.HasPrefix(f, "r:"):
			r.Reasons[f[2:]], _ = strconv.Atoi(v)
		case strings.HasPrefix(f, "c:"):
			if i, err := strconv.Atoi(v); err == nil && i >= 0 && i < reports.MaxContacts {
				contacts[i] = f[2:]
			}
		}
	}
	for _, c := range contacts {
		if c != "" {
			r.Contacts = append(r.Contacts, c)
		}
	}
	return r, nil
}

// List implements Store.
func (s *Reports) List(ctx context.Context, cursor string, limit int) ([]*reports.Report, string, error) {
	limit = reports.ListLimit(limit)
	start := "-"
	if cursor != "" {
		if _, err := reports.ParseCursor(cursor); err != nil {
			return nil, "", err
		}
		start = "(" + cursor
	}
	var out []*reports.Report
	for {
		members, err := s.client.ZRangeArgs(ctx, goredis.ZRangeArgs{
			Key: s.indexKey(), Start: start, Stop: "+", ByLex: true, Count: int64(limit - len(out) + 1),
		}).Result()
		if err != nil {
			return nil, "", fmt.Errorf("reports: redis: %w", err)
		}
		if len(members) == 0 {
			return out, "", nil
		}
		pipe := s.client.Pipeline()
		cmds := make([]*goredis.MapStringStringCmd, len(members))
		for i, m := range members {
			cmds[i] = pipe.HGetAll(ctx, s.reportKey(m))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, "", fmt.Errorf("reports: redis: %w", err)
		}
		var gone []any
		for i, m := range members {
			h := cmds[i].Val()
			if len(h) == 0 { // expired or deleted
				gone = append(gone, m)
				continue
			}
			if len(out) == limit {
				s.zrem(ctx, gone)
				return out, hex.EncodeToString(out[len(out)-1].ID), nil
			}
			id, err := hex.DecodeString(m)
			if err != nil {
				gone = append(gone, m)
				continue
			}
			r, err := decodeHash(id, h)
			if err != nil {
				return nil, "", err
			}
			out = append(out, r)
		}
		s.zrem(ctx, gone)
		start = "(" + members[len(members)-1]
	}
}

func (s *Reports) zrem(ctx context.Context, members []any) {
	if len(members) > 0 {
		s.client.ZRem(ctx, s.indexKey(), members...)
	}
}

// deleteReportScript removes a report, its chunk key (if it still names it) and
// its index member; it answers 0, or 1 if there was no report.
//
//	KEYS: report hash, index
//	ARGV: prefix, hex ID
var deleteReportScript = goredis.NewScript(`
local k = redis.call('HGET', KEYS[1], 'k')
redis.call('ZREM', KEYS[2], ARGV[2])
if not k then
	return 1
end
local ck = ARGV[1] .. 'report_chunk:' .. k
if redis.call('GET', ck) == ARGV[2] then
	redis.call('DEL', ck)
end
redis.call('DEL', KEYS[1])
return 0
`)

// Delete implements Store.
func (s *Reports) Delete(ctx context.Context, id []byte) error {
	if len(id) != reports.IDSize {
		return reports.ErrNotFound
	}
	h := hex.EncodeToString(id)
	n, err := deleteReportScript.Run(ctx, s.client, []string{s.reportKey(h), s.indexKey()}, s.prefix, h).Int()
	if err != nil {
		return fmt.Errorf("reports: redis: %w", err)
	}
	if err := s.ack.Ack(ctx, s.indexKey()); err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	if n == 1 {
		return reports.ErrNotFound
	}
	return nil
}

// Close implements Store; it leaves the client open.
func (s *Reports) Close() error { return nil }
