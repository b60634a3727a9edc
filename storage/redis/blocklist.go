package redis

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	goredis "github.com/redis/go-redis/v9"
	"github.com/xftp/xftp/blocklist"
)

// DefaultRedisPrefix is the key prefix NewBlocklist uses for an empty prefix.
// The braces are a Blocklist Cluster hash tag: they put every key of the store
// in one slot, which MGET and MULTI need.
const DefaultRedisPrefix = "{xftp:block}:"

// Blocklist is a Store in Blocklist. Each blocked key is a string
//
//	prefix + kind + ":" + base64url(SHA-256(value))
//
// (kind is "sender", "recipient" or "digest") holding the stored entry, so
// key names do not show IDs. A sorted set prefix + "index", with every
// member at score 0, holds the same names without the prefix and gives
// List a stable lexicographic order. Block and Unblock change both in one
// MULTI/EXEC transaction; Lookup is a single MGET.
type Blocklist struct {
	client goredis.UniversalClient
	prefix string
	ack    *Acker
}

// SetAcker makes Block and Unblock wait for a's replicas (see Acker). Call
// it before the first use.
func (s *Blocklist) SetAcker(a *Acker) { s.ack = a }

var _ blocklist.Store = (*Blocklist)(nil)

// NewBlocklist returns a store using client, with every key name starting with
// prefix (DefaultRedisPrefix if empty). With Blocklist Cluster the prefix must
// contain a hash tag, like the default does. The caller keeps ownership of
// client and closes it after the store.
func NewBlocklist(client goredis.UniversalClient, prefix string) *Blocklist {
	if prefix == "" {
		prefix = DefaultRedisPrefix
	}
	return &Blocklist{client: client, prefix: prefix}
}

// member returns the index member of k, which is also its key name
// without the prefix.
func redisMember(k blocklist.Key) string {
	h := k.Hash()
	return k.Kind.String() + ":" + base64.RawURLEncoding.EncodeToString(h[:])
}

func (s *Blocklist) indexKey() string { return s.prefix + "index" }

// Block implements Store.
func (s *Blocklist) Block(ctx context.Context, entries []blocklist.Entry) error {
	if err := blocklist.ValidateEntries(entries); err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	_, err := s.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		members := make([]goredis.Z, 0, len(entries))
		for i := range entries {
			m := redisMember(entries[i].Key)
			p.Set(ctx, s.prefix+m, blocklist.MarshalEntry(&entries[i]), 0)
			members = append(members, goredis.Z{Member: m})
		}
		p.ZAdd(ctx, s.indexKey(), members...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("blocklist: redis: %w", err)
	}
	if err := s.ack.Ack(ctx, s.indexKey()); err != nil {
		return fmt.Errorf("blocklist: %w", err)
	}
	return nil
}

// Lookup implements Store.
func (s *Blocklist) Lookup(ctx context.Context, keys ...blocklist.Key) (*blocklist.Entry, error) {
	if err := blocklist.ValidateKeys(keys); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, blocklist.ErrNotBlocked
	}
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = s.prefix + redisMember(k)
	}
	vals, err := s.client.MGet(ctx, names...).Result()
	if err != nil {
		return nil, fmt.Errorf("blocklist: redis: %w", err)
	}
	for _, v := range vals {
		if v == nil {
			continue
		}
		return unmarshalRedis(v)
	}
	return nil, blocklist.ErrNotBlocked
}

func unmarshalRedis(v any) (*blocklist.Entry, error) {
	str, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("blocklist: redis: unexpected %T value", v)
	}
	return blocklist.UnmarshalEntry([]byte(str))
}

// Unblock implements Store.
func (s *Blocklist) Unblock(ctx context.Context, keys ...blocklist.Key) error {
	if err := blocklist.ValidateKeys(keys); err != nil {
		return err
	}
	if len(keys) == 0 {
		return nil
	}
	names := make([]string, len(keys))
	members := make([]any, len(keys))
	for i, k := range keys {
		m := redisMember(k)
		names[i], members[i] = s.prefix+m, m
	}
	_, err := s.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.Del(ctx, names...)
		p.ZRem(ctx, s.indexKey(), members...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("blocklist: redis: %w", err)
	}
	if err := s.ack.Ack(ctx, s.indexKey()); err != nil {
		return fmt.Errorf("blocklist: %w", err)
	}
	return nil
}

// List implements Store. The cursor is the last index member returned.
// It takes two round trips: ZRANGE on the index, then MGET.
func (s *Blocklist) List(ctx context.Context, cursor string, limit int) ([]blocklist.Entry, string, error) {
	limit = blocklist.ListLimit(limit)
	start := "-"
	if cursor != "" {
		if !validMember(cursor) {
			return nil, "", blocklist.ErrInvalidCursor
		}
		start = "(" + cursor
	}
	members, err := s.client.ZRangeArgs(ctx, goredis.ZRangeArgs{
		Key:   s.indexKey(),
		Start: start,
		Stop:  "+",
		ByLex: true,
		Count: int64(limit) + 1, // one more tells whether another page follows
	}).Result()
	if err != nil {
		return nil, "", fmt.Errorf("blocklist: redis: %w", err)
	}
	var next string
	if len(members) > limit {
		members = members[:limit]
		next = members[limit-1]
	}
	if len(members) == 0 {
		return nil, "", nil
	}
	names := make([]string, len(members))
	for i, m := range members {
		names[i] = s.prefix + m
	}
	vals, err := s.client.MGet(ctx, names...).Result()
	if err != nil {
		return nil, "", fmt.Errorf("blocklist: redis: %w", err)
	}
	entries := make([]blocklist.Entry, 0, len(vals))
	for _, v := range vals {
		if v == nil { // unblocked between ZRANGE and MGET
			continue
		}
		e, err := unmarshalRedis(v)
		if err != nil {
			return nil, "", err
		}
		entries = append(entries, *e)
	}
	return entries, next, nil
}

// validMember reports whether m looks like a member of the index.
func validMember(m string) bool {
	kind, h, ok := strings.Cut(m, ":")
	if !ok || (kind != "sender" && kind != "recipient" && kind != "digest") {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(h)
	return err == nil && len(b) == 32
}

// Close implements Store; it leaves the client open.
func (s *Blocklist) Close() error { return nil }
