package redis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/xftp/xftp/blocklist"
	"github.com/xftp/xftp/blocklist/blocklisttest"
	"github.com/xftp/xftp/internal/testenv"
	"github.com/xftp/xftp/reports"
	"github.com/xftp/xftp/reports/reportstest"
	"github.com/xftp/xftp/storage/redis"
)

// clusterClient connects to the 6-node cluster of XFTP_TEST_REDIS_CLUSTER
// (skipped without it, except in CI).
func clusterClient(t *testing.T) *goredis.ClusterClient {
	t.Helper()
	c, err := redis.NewClient(redis.ClientOptions{Addresses: testenv.RedisCluster(t), Cluster: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*goredis.ClusterClient)
}

// clusterPrefix returns a fresh prefix (with a hash tag if tagged) and
// deletes its keys on every master when the test ends.
func clusterPrefix(t *testing.T, c *goredis.ClusterClient, tagged bool) string {
	b := make([]byte, 8)
	rand.Read(b)
	prefix := "xftp-test:" + hex.EncodeToString(b) + ":"
	if tagged {
		prefix = "{" + strings.TrimSuffix(prefix, ":") + "}:"
	}
	t.Cleanup(func() {
		ctx := context.Background()
		c.ForEachMaster(ctx, func(ctx context.Context, m *goredis.Client) error {
			iter := m.Scan(ctx, 0, prefix+"*", 100).Iterator()
			for iter.Next(ctx) {
				m.Del(ctx, iter.Val())
			}
			return nil
		})
	})
	return prefix
}

// ackedClusterStore returns a store made by newStore on c under a fresh
// tagged prefix, waiting for one replica per write, as xftpd on a cluster.
func ackedClusterStore[S interface{ SetAcker(*redis.Acker) }](t *testing.T, c *goredis.ClusterClient, newStore func(goredis.UniversalClient, string) S) S {
	prefix := clusterPrefix(t, c, true)
	s := newStore(c, prefix)
	s.SetAcker(redis.NewAcker(c, prefix, 1, 0))
	return s
}

// TestBlocklistContractCluster runs the blocklist contract on the
// cluster. The store keeps its keys in one slot (its prefix's hash tag):
// Block and Unblock must change a chunk's entries (sender, recipients,
// digest) atomically, and a Lookup knows only one of them, so they cannot
// be spread by chunk. Its cost is one pipelined GET of 1 to 3 keys per
// request on that master (docs/SCALING.md).
func TestBlocklistContractCluster(t *testing.T) {
	c := clusterClient(t)
	blocklisttest.TestStore(t, func(t *testing.T) blocklist.Store {
		return ackedClusterStore(t, c, redis.NewBlocklist)
	})
}

// TestReportsContractCluster runs the reports contract on the cluster. The
// report store keeps its keys in one slot (its prefix's hash tag): reports
// are few (reports_per_minute caps them over all sources) and List needs
// one ordered index, so one master carries them all.
func TestReportsContractCluster(t *testing.T) {
	c := clusterClient(t)
	reportstest.Run(t, func(t *testing.T) reports.Store {
		return ackedClusterStore(t, c, redis.NewReports)
	})
}
