//go:build !js

package blocklist

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisPrefix is the key prefix NewRedis uses for an empty prefix.
// The braces are a Redis Cluster hash tag: they put every key of the store
// in one slot, which MGET and MULTI need.
const DefaultRedisPrefix = "{xftp:block}:"

// Redis is a Store in Redis. Each blocked key is a string
//
//	prefix + kind + ":" + base64url(SHA-256(value))
//
// (kind is "sender", "recipient" or "digest") holding the stored entry, so
// key names do not show IDs. A sorted set prefix + "index", with every
// member at score 0, holds the same names without the prefix and gives
// List a stable lexicographic order. Block and Unblock change both in one
// MULTI/EXEC transaction; Lookup is a single MGET.
type Redis struct {
	client redis.UniversalClient
	prefix string
}

var _ Store = (*Redis)(nil)

// NewRedis returns a store using client, with every key name starting with
// prefix (DefaultRedisPrefix if empty). With Redis Cluster the prefix must
// contain a hash tag, like the default does. The caller keeps ownership of
// client and closes it after the store.
func NewRedis(client redis.UniversalClient, prefix string) *Redis {
	if prefix == "" {
		prefix = DefaultRedisPrefix
	}
	return &Redis{client: client, prefix: prefix}
}

// member returns the index member of k, which is also its key name
// without the prefix.
func redisMember(k Key) string {
	h := k.hash()
	return k.Kind.String() + ":" + base64.RawURLEncoding.EncodeToString(h[:])
}

func (s *Redis) indexKey() string { return s.prefix + "index" }

// Block implements Store.
func (s *Redis) Block(ctx context.Context, entries []Entry) error {
	if err := validateEntries(entries); err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		members := make([]redis.Z, 0, len(entries))
		for i := range entries {
			m := redisMember(entries[i].Key)
			p.Set(ctx, s.prefix+m, marshalEntry(&entries[i]), 0)
			members = append(members, redis.Z{Member: m})
		}
		p.ZAdd(ctx, s.indexKey(), members...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("blocklist: redis: %w", err)
	}
	return nil
}

// Lookup implements Store.
func (s *Redis) Lookup(ctx context.Context, keys ...Key) (*Entry, error) {
	if err := validateKeys(keys); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, ErrNotBlocked
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
	return nil, ErrNotBlocked
}

func unmarshalRedis(v any) (*Entry, error) {
	str, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("blocklist: redis: unexpected %T value", v)
	}
	return unmarshalEntry([]byte(str))
}

// Unblock implements Store.
func (s *Redis) Unblock(ctx context.Context, keys ...Key) error {
	if err := validateKeys(keys); err != nil {
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
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, names...)
		p.ZRem(ctx, s.indexKey(), members...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("blocklist: redis: %w", err)
	}
	return nil
}

// List implements Store. The cursor is the last index member returned.
// It takes two round trips: ZRANGE on the index, then MGET.
func (s *Redis) List(ctx context.Context, cursor string, limit int) ([]Entry, string, error) {
	limit = listLimit(limit)
	start := "-"
	if cursor != "" {
		if !validMember(cursor) {
			return nil, "", ErrInvalidCursor
		}
		start = "(" + cursor
	}
	members, err := s.client.ZRangeArgs(ctx, redis.ZRangeArgs{
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
	entries := make([]Entry, 0, len(vals))
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
func (s *Redis) Close() error { return nil }
