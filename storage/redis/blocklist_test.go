package redis_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/xftp/xftp/blocklist"
	"github.com/xftp/xftp/blocklist/blocklisttest"
	"github.com/xftp/xftp/identity"
	"github.com/xftp/xftp/internal/testenv"
	"github.com/xftp/xftp/storage/redis"
)

// redisClient connects to the Redis server named by XFTP_TEST_REDIS
// (host:port). Without it the test is skipped, except in CI, where a
// skipped backend would hide a broken one.
func redisClient(t *testing.T) *goredis.Client {
	t.Helper()
	addr := testenv.Redis(t)
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	if err := c.Ping(t.Context()).Err(); err != nil {
		t.Fatalf("redis at %s: %v", addr, err)
	}
	return c
}

// uniquePrefix returns a key prefix no other test uses and deletes its
// keys when the test ends; nothing else in the server is touched.
func uniquePrefix(t *testing.T, c *goredis.Client) string {
	b := make([]byte, 8)
	rand.Read(b)
	name := strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' {
			return r
		}
		return '.'
	}, t.Name())
	// Only letters, digits, '.', ':', '{' and '}': nothing SCAN's glob
	// pattern would read as special.
	prefix := "{xftp-test:" + name + ":" + hex.EncodeToString(b) + "}:"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return prefix
}

func testID() *identity.Identity {
	return &identity.Identity{Key: ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))}
}

func TestBlocklistContract(t *testing.T) {
	c := redisClient(t)
	blocklisttest.TestStore(t, func(t *testing.T) blocklist.Store {
		return redis.NewBlocklist(c, uniquePrefix(t, c))
	})
}

// Key names must not show the IDs.
func TestBlocklistKeyNames(t *testing.T) {
	c := redisClient(t)
	prefix := uniquePrefix(t, c)
	s := redis.NewBlocklist(c, prefix)
	id := []byte("VISIBLE-RECIPIENT-ID")
	e := blocklisttest.Entry(t, testID(), blocklist.Key{Kind: blocklist.KindRecipient, Value: id}, "")
	if err := s.Block(t.Context(), []blocklist.Entry{e}); err != nil {
		t.Fatal(err)
	}
	keys, err := c.Keys(t.Context(), prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Fatalf("keys = %q, want the entry and the index", keys)
	}
	for _, k := range keys {
		if strings.Contains(k, string(id)) || strings.Contains(k, hex.EncodeToString(id)) {
			t.Errorf("key name %q shows the ID", k)
		}
	}
}
