package redis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/xftp/xftp/internal/testenv"
	"github.com/xftp/xftp/reports"
	"github.com/xftp/xftp/reports/reportstest"
	"github.com/xftp/xftp/storage/redis"
)

// TestReportsContract runs the contract against the Redis at XFTP_TEST_REDIS
// (skipped without it, except in CI).
func TestReportsContract(t *testing.T) {
	addr := testenv.Redis(t)
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	reportstest.Run(t, func(t *testing.T) reports.Store {
		b := make([]byte, 8)
		rand.Read(b)
		prefix := "{xftp-test-reports:" + hex.EncodeToString(b) + "}:"
		t.Cleanup(func() {
			ctx := context.Background()
			iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
			for iter.Next(ctx) {
				c.Del(ctx, iter.Val())
			}
		})
		return redis.NewReports(c, prefix)
	})
}
