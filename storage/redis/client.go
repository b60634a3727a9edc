package redis

import (
	"crypto/tls"
	"errors"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// ClientOptions say which Redis deployment to reach.
type ClientOptions struct {
	// Addresses are host:port pairs: the server (one), the cluster's
	// seed nodes (Cluster), or the Sentinels (MasterName set).
	Addresses []string
	// Cluster selects a Redis Cluster client.
	Cluster bool
	// MasterName selects Sentinel: the name the Sentinels monitor.
	MasterName         string
	Username, Password string
	// SentinelUsername and SentinelPassword authenticate to the Sentinels
	// themselves (the data nodes use Username and Password).
	SentinelUsername, SentinelPassword string
	DB                                 int
	TLS                                *tls.Config
}

// ClusterStateReload is how often a cluster client re-reads the slot map
// even if no MOVED answer made it do so (go-redis waits 60 s by default):
// after a failover, the promoted replica is used within this time.
const ClusterStateReload = 2 * time.Second

// NewClient returns a go-redis client for o: a ClusterClient, a Sentinel
// FailoverClient or a plain Client, with the timeouts xftpd uses.
func NewClient(o ClientOptions) (goredis.UniversalClient, error) {
	switch {
	case len(o.Addresses) == 0:
		return nil, errors.New("redis: no address")
	case o.Cluster && o.MasterName != "":
		return nil, errors.New("redis: cluster and sentinel exclude each other")
	case o.Cluster && o.DB != 0:
		return nil, errors.New("redis: a cluster has only database 0")
	case !o.Cluster && o.MasterName == "" && len(o.Addresses) > 1:
		return nil, errors.New("redis: several addresses need cluster: true or a sentinel master name")
	}
	const timeout = 3 * time.Second
	switch {
	case o.Cluster:
		return goredis.NewClusterClient(&goredis.ClusterOptions{
			Addrs: o.Addresses, Username: o.Username, Password: o.Password, TLSConfig: o.TLS,
			DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout, DialerRetries: 1,
			PoolSize: 64, MaxRedirects: 8, ClusterStateReloadInterval: ClusterStateReload,
		}), nil
	case o.MasterName != "":
		return goredis.NewFailoverClient(&goredis.FailoverOptions{
			MasterName: o.MasterName, SentinelAddrs: o.Addresses,
			SentinelUsername: o.SentinelUsername, SentinelPassword: o.SentinelPassword,
			Username: o.Username, Password: o.Password, DB: o.DB, TLSConfig: o.TLS,
			DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout, DialerRetries: 1,
			PoolSize: 64,
		}), nil
	}
	return goredis.NewClient(&goredis.Options{
		Addr: o.Addresses[0], Username: o.Username, Password: o.Password, DB: o.DB, TLSConfig: o.TLS,
		DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout, DialerRetries: 1,
		PoolSize: 64,
	}), nil
}
