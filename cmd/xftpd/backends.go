package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/xftp/xftp/server"
	"github.com/xftp/xftp/storage"
	"github.com/xftp/xftp/storage/disk"
	"github.com/xftp/xftp/storage/embedded"
	"github.com/xftp/xftp/storage/redis"
	"github.com/xftp/xftp/storage/s3"
)

// backends are the stores the configuration selects.
type backends struct {
	store   storage.Store
	records storage.Records
	nonces  server.Nonces     // nil: in-memory
	bolt    *embedded.Records // set with the embedded records
	redis   goredis.UniversalClient
	ack     *redis.Acker // nil unless redis
	closers []func()
}

func (b *backends) close() {
	for i := len(b.closers) - 1; i >= 0; i-- {
		b.closers[i]()
	}
}

func openBackends(ctx context.Context, cfg Config, env func(string) string, log *slog.Logger) (b *backends, err error) {
	b = &backends{}
	opened := b // "return nil, err" clears b before this runs
	defer func() {
		if err != nil {
			opened.close()
		}
	}()
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	switch cfg.Storage.Backend {
	case "fs":
		if b.store, err = disk.Open(filepath.Join(cfg.Data, "chunks")); err != nil {
			return nil, err
		}
	case "s3":
		sc := cfg.Storage.S3
		secretKey, err := secret(env, "XFTPD_S3_SECRET_KEY", sc.SecretKeyFile)
		if err != nil {
			return nil, fmt.Errorf("storage.s3.secret_key_file: %w", err)
		}
		accessKey := sc.AccessKey
		if v := env("XFTPD_S3_ACCESS_KEY"); v != "" {
			accessKey = v
		}
		st, err := s3.Open(startCtx, s3.Config{
			Endpoint: sc.Endpoint, Endpoints: sc.Endpoints, Bucket: sc.Bucket, Region: sc.Region, AccessKey: accessKey, SecretKey: secretKey,
			UseTLS: sc.UseTLS, PathStyle: sc.PathStyle, CreateBucket: sc.CreateBucket, Prefix: sc.Prefix,
		})
		if err != nil {
			return nil, err
		}
		b.store = st
	}
	switch cfg.Records.Backend {
	case "embedded":
		r, err := embedded.Open(filepath.Join(cfg.Data, "records.db"), 2*time.Second)
		if err != nil {
			return nil, err
		}
		b.records, b.bolt = r, r
		b.closers = append(b.closers, func() { r.Close() })
	case "redis":
		rc := cfg.Redis
		password, err := secret(env, "XFTPD_REDIS_PASSWORD", rc.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("redis.password_file: %w", err)
		}
		o := redis.ClientOptions{
			Addresses: rc.addresses(), Cluster: rc.Cluster, MasterName: rc.Sentinel.MasterName,
			Username: rc.Username, Password: password, DB: rc.DB,
		}
		if o.MasterName != "" {
			o.SentinelUsername = rc.Sentinel.Username
			if o.SentinelPassword, err = secret(env, "XFTPD_REDIS_SENTINEL_PASSWORD", rc.Sentinel.PasswordFile); err != nil {
				return nil, fmt.Errorf("redis.sentinel.password_file: %w", err)
			}
		}
		if rc.TLS {
			o.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		client, err := redis.NewClient(o)
		if err != nil {
			return nil, err
		}
		b.redis = client
		b.closers = append(b.closers, func() { client.Close() })
		r, err := redis.Open(startCtx, client, rc.Prefix)
		if err != nil {
			return nil, fmt.Errorf("redis at %s: %w", strings.Join(o.Addresses, ","), err)
		}
		// Nonces are left out: a nonce lost in a failover lets one
		// replay through within its window, as a restart of a
		// single-server deployment without persistence would.
		b.ack = redis.NewAcker(client, rc.Prefix, rc.replicasAck(), time.Duration(rc.ReplicasAckTimeout))
		r.SetAcker(b.ack)
		b.records = r
		b.nonces = redis.NewNonces(client, rc.Prefix)
	}
	log.Debug("backends open", "storage", cfg.Storage.Backend, "records", cfg.Records.Backend)
	return b, nil
}
