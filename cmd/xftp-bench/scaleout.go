package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	goredis "github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/api/httpclient"
)

// scaleoutCommand runs 1, 2, 3... xftpd replicas sharing one Redis Cluster
// and one bucket, with the clients spread over them, and reports ops/s and
// p99 per replica count and the records' keys per master.
func scaleoutCommand() *cobra.Command {
	var (
		cfg               config
		replicas, sizeStr string
		conc              int
	)
	cmd := &cobra.Command{
		Use:   "scaleout",
		Short: "xftpd replicas (1, 2, 3) on a Redis Cluster and MinIO: ops/s, p99, keys per master",
		Long: `scaleout starts a 6-node Redis Cluster (or uses XFTP_TEST_REDIS_CLUSTER) and
MinIO (or uses XFTP_TEST_S3_*), then for each replica count starts that many
xftpd processes with one identity, spreads the workers over them, and
measures one-request uploads (create and upload). On one small machine every
replica, Redis node and MinIO share the same cores, so the figures show the
cost of coordination, not the capacity of more machines (docs/SCALING.md).`,
		Args:          cobra.NoArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ns, err := parseInts(replicas)
			if err != nil {
				return fmt.Errorf("--replicas: %w", err)
			}
			size, err := humanize.ParseBytes(sizeStr)
			if err != nil {
				return fmt.Errorf("--size: %w", err)
			}
			return runScaleout(cmd.Context(), &cfg, ns, int64(size), conc, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&replicas, "replicas", "1,2,3", "replica counts")
	fl.StringVar(&sizeStr, "size", "64KiB", "chunk size")
	fl.IntVar(&conc, "conc", 12, "concurrent clients, spread over the replicas")
	fl.DurationVar(&cfg.Duration, "duration", 5*time.Second, "measured time per replica count")
	fl.DurationVar(&cfg.Warmup, "warmup", time.Second, "warm-up time (not measured)")
	fl.Int64Var(&cfg.MaxOps, "max-ops", 200000, "at most this many operations per replica count")
	fl.StringVar(&cfg.XftpdBin, "xftpd", "", "xftpd binary (default: go build ./cmd/xftpd)")
	fl.StringVar(&cfg.XftpBin, "xftp", "", "xftp binary (default: go build ./cmd/xftp)")
	fl.StringVar(&cfg.MinioBin, "minio", "", "minio binary when XFTP_TEST_S3_* is not set")
	return cmd
}

func runScaleout(ctx context.Context, cfg *config, counts []int, size int64, conc int, out, logw io.Writer) error {
	dir, err := os.MkdirTemp("", "xftp-bench-scaleout-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := buildBinaries(ctx, cfg, dir); err != nil {
		return err
	}
	addrs := os.Getenv("XFTP_TEST_REDIS_CLUSTER")
	if addrs == "" {
		nodes, a, err := startBenchCluster(ctx, dir)
		defer func() {
			for _, n := range nodes {
				n.stop()
			}
		}()
		if err != nil {
			return err
		}
		addrs = a
	}
	svc, err := startS3Services(ctx, cfg, dir)
	if err != nil {
		return err
	}
	defer svc.stop()
	mc, err := minio.New(svc.endpoint, &minio.Options{Creds: credentials.NewStaticV4(svc.accessKey, svc.secretKey, ""), BucketLookup: minio.BucketLookupPath})
	if err != nil {
		return err
	}
	bucket := "xftp-scaleout-" + randHex(4)
	if err := mc.MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: "us-east-1"}); err != nil {
		return fmt.Errorf("creating bucket at %s: %w", svc.endpoint, err)
	}
	defer func() {
		removePrefix(context.WithoutCancel(ctx), mc, bucket, "")
		mc.RemoveBucket(context.WithoutCancel(ctx), bucket)
	}()
	cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: strings.Split(addrs, ",")})
	defer cc.Close()
	p := newPayload(size)
	spec := loadSpec{Warmup: cfg.Warmup, Duration: cfg.Duration, MaxOps: cfg.MaxOps}
	fmt.Fprintf(out, "replicas  size  conc     MB/s    ops/s   p50 ms   p99 ms  keys per master\n")
	for _, n := range counts {
		prefix := "xftpbench-" + randHex(4) + ":"
		// One identity per replica count, in a folder of its own (files
		// derived from it, such as the XFTP CA, live next to it).
		idDir := filepath.Join(dir, "identity-"+strconv.Itoa(n))
		if err := os.MkdirAll(idDir, 0o700); err != nil {
			return err
		}
		identity := filepath.Join(idDir, "identity.pem")
		b := backendConfig{
			yaml: fmt.Sprintf("identity_file: %s\nstorage:\n  backend: s3\n  s3:\n    endpoint: %s\n    bucket: %s\n    region: us-east-1\n    access_key: %s\n    use_tls: false\n    path_style: true\n    prefix: %q\nrecords:\n  backend: redis\nredis:\n  cluster: true\n  addresses: [%s]\n  prefix: %q\n",
				identity, svc.endpoint, bucket, svc.accessKey, prefix, addrs, prefix),
			env: []string{"XFTPD_S3_SECRET_KEY=" + svc.secretKey},
		}
		var servers []*child
		var addrsN []api.Address
		for i := range n {
			c, a, err := startXftpd(cfg.XftpdBin, dir, fmt.Sprintf("replica-%d-of-%d", i+1, n), b)
			if err != nil {
				for _, s := range servers {
					stopXftpd(s, dir)
				}
				return err
			}
			servers = append(servers, c)
			addrsN = append(addrsN, a)
		}
		clients := make([]*httpclient.Client, conc)
		for i := range clients {
			clients[i] = httpclient.NewClient(addrsN[i%n], httpclient.ClientOptions{})
		}
		r, lerr := runLoad(ctx, spec, 0, xftpdUploadOps(clients, p.data, p.digest, false))
		rw := newRow(fmt.Sprintf("scaleout-%d", n), "upload", size, conc, r, lerr)
		closeClients(clients)
		for _, s := range servers {
			stopXftpd(s, dir)
		}
		per := keysPerMaster(ctx, cc, prefix)
		if rw.Err != "" {
			fmt.Fprintf(out, "%8d  %4s  %4d  error: %s\n", n, humanize.IBytes(uint64(size)), conc, rw.Err)
		} else {
			fmt.Fprintf(out, "%8d  %4s  %4d  %7.1f  %7.1f  %7.1f  %7.1f  %s\n", n, humanize.IBytes(uint64(size)), conc,
				rw.MBps, rw.OpsPerSec, rw.P50ms, rw.P99ms, per)
		}
		deleteKeys(context.WithoutCancel(ctx), cc, prefix)
		removePrefix(ctx, mc, bucket, "")
	}
	fmt.Fprintln(logw, "every replica, Redis node and MinIO ran on this machine's cores: see docs/SCALING.md for what more machines carry")
	return nil
}

// keysPerMaster counts the keys under prefix on each master, in address
// order, or says why it could not.
func keysPerMaster(ctx context.Context, cc *goredis.ClusterClient, prefix string) string {
	var mu sync.Mutex
	per := map[string]int{}
	err := cc.ForEachMaster(ctx, func(ctx context.Context, m *goredis.Client) error {
		n := 0
		iter := m.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			n++
		}
		if err := iter.Err(); err != nil {
			return err
		}
		mu.Lock()
		per[m.Options().Addr] = n
		mu.Unlock()
		return nil
	})
	if err != nil {
		return "(counting keys: " + err.Error() + ")"
	}
	var names []string
	for a := range per {
		names = append(names, a)
	}
	sort.Strings(names)
	var parts []string
	for _, a := range names {
		parts = append(parts, strconv.Itoa(per[a]))
	}
	return strings.Join(parts, "/")
}

func deleteKeys(ctx context.Context, cc *goredis.ClusterClient, prefix string) {
	cc.ForEachMaster(ctx, func(ctx context.Context, m *goredis.Client) error {
		iter := m.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			m.Del(ctx, iter.Val())
		}
		return nil
	})
}

// startBenchCluster starts six redis-server nodes and joins them into a
// cluster of 3 masters and 3 replicas.
func startBenchCluster(ctx context.Context, dir string) ([]*child, string, error) {
	server, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, "", errors.New("no redis-server on PATH and XFTP_TEST_REDIS_CLUSTER not set")
	}
	cli := filepath.Join(filepath.Dir(server), "redis-cli")
	var nodes []*child
	var addrs []string
	for i := 0; len(nodes) < 6 && i < 200; i++ {
		p, err := freePort()
		if err != nil || p+10000 > 65535 {
			continue
		}
		if bp, err := freePortAt(p + 10000); err != nil || bp == 0 {
			continue
		}
		nd := filepath.Join(dir, "redis-"+strconv.Itoa(p))
		os.MkdirAll(nd, 0o700)
		cmd := exec.Command(server, "--port", strconv.Itoa(p), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "3000")
		cmd.Dir = nd
		c, _, err := startChild("redis-"+strconv.Itoa(p), dir, cmd, false)
		if err != nil {
			return nodes, "", err
		}
		nodes = append(nodes, c)
		addrs = append(addrs, "127.0.0.1:"+strconv.Itoa(p))
	}
	if len(nodes) < 6 {
		return nodes, "", errors.New("no free ports for a Redis Cluster")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		args := append(append([]string{"--cluster", "create"}, addrs...), "--cluster-replicas", "1", "--cluster-yes")
		if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err == nil {
			break
		} else if time.Now().After(deadline) {
			return nodes, "", fmt.Errorf("redis-cli --cluster create: %v\n%s", err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: addrs})
	defer cc.Close()
	for {
		err := cc.ForEachShard(ctx, func(ctx context.Context, c *goredis.Client) error {
			info, err := c.ClusterInfo(ctx).Result()
			if err == nil && !strings.Contains(info, "cluster_state:ok") {
				err = errors.New("cluster not ok yet")
			}
			return err
		})
		if err == nil {
			return nodes, strings.Join(addrs, ","), nil
		}
		if time.Now().After(deadline) {
			return nodes, "", fmt.Errorf("redis cluster not ready: %w", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// freePortAt reports port if nothing listens on it, else 0.
func freePortAt(port int) (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return 0, nil
	}
	ln.Close()
	return port, nil
}
