package e2e

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/chunk"
	"github.com/xftp/xftp/client"
	"github.com/xftp/xftp/internal/testenv"
)

// clusterPorts returns n free ports whose cluster bus ports (+10000) are
// free too.
func clusterPorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for tries := 0; len(ports) < n && tries < 1000; tries++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		if p+10000 > 65535 {
			l.Close()
			continue
		}
		bus, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+10000))
		if err != nil {
			l.Close()
			continue
		}
		held = append(held, l, bus)
		ports = append(ports, p)
	}
	if len(ports) < n {
		t.Fatal("no free ports for a Redis Cluster")
	}
	return ports
}

// redisCluster is a private 6-node Redis Cluster (3 masters, 3 replicas)
// for tests that kill nodes.
type redisCluster struct {
	nodes []*redisProc
}

func startRedisCluster(t *testing.T) *redisCluster {
	t.Helper()
	cli := testenv.RedisCLI(t)
	dir := t.TempDir()
	c := &redisCluster{}
	var addrs []string
	for _, port := range clusterPorts(t, 6) {
		p := startRedisProc(t, filepath.Join(dir, strconv.Itoa(port)), port,
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000")
		c.nodes = append(c.nodes, p)
		addrs = append(addrs, p.addr())
	}
	out, err := exec.Command(cli, append(append([]string{"--cluster", "create"}, addrs...), "--cluster-replicas", "1", "--cluster-yes")...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	// A replica that has not synced with its master once cannot replace
	// it: wait for every replica's link too.
	testenv.Eventually(t, 30*time.Second, func() bool {
		replicas := 0
		for _, n := range c.nodes {
			info, err := exec.Command(cli, "-p", strconv.Itoa(n.port), "cluster", "info").Output()
			if err != nil || !strings.Contains(string(info), "cluster_state:ok") {
				return false
			}
			repl, err := exec.Command(cli, "-p", strconv.Itoa(n.port), "info", "replication").Output()
			switch {
			case err != nil:
				return false
			case strings.Contains(string(repl), "role:slave"):
				if !strings.Contains(string(repl), "master_link_status:up") {
					return false
				}
				replicas++
			}
		}
		return replicas == 3
	}, "no cluster_state:ok and replicas in sync")
	return c
}

func (c *redisCluster) addresses() string {
	var a []string
	for _, n := range c.nodes {
		a = append(a, n.addr())
	}
	return strings.Join(a, ",")
}

// master returns the node serving the slot of key as master.
func (c *redisCluster) master(t *testing.T, key string) *redisProc {
	t.Helper()
	cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: strings.Split(c.addresses(), ",")})
	defer cc.Close()
	m, err := cc.MasterForKey(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range c.nodes {
		if n.addr() == m.Options().Addr {
			return n
		}
	}
	t.Fatalf("no node at %s", m.Options().Addr)
	return nil
}

// redisConfig writes an xftpd config with fs storage and the given redis
// section, and returns its path and the Redis key prefix it sets.
func redisConfig(t *testing.T, dir, redis string) (path, prefix string) {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	prefix = "xftp-e2e-" + hex.EncodeToString(b) + ":"
	cfg := fmt.Sprintf("storage:\n  backend: fs\nrecords:\n  backend: redis\nredis:\n  prefix: %q\n%sadmin:\n  listen: 127.0.0.1:0\n",
		prefix, redis)
	path = filepath.Join(dir, "xftpd.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, prefix
}

func clusterRedis(addrs string) string {
	return "  cluster: true\n  addresses: [" + addrs + "]\n"
}

// TestClusterEndToEnd uploads, downloads and takes down a file on an xftpd
// whose records live in the 6-node Redis Cluster, then counts its keys on
// each master.
func TestClusterEndToEnd(t *testing.T) {
	addrs := strings.Join(testenv.RedisCluster(t), ",")
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfg, prefix := redisConfig(t, dir, clusterRedis(addrs))
	d := startDaemon(t, data, "--config", cfg)
	if s := readyz(t, d.addr); s != 200 {
		t.Fatalf("/readyz: %d", s)
	}
	file := filepath.Join(dir, "f.bin")
	writeRandom(t, file, 5<<20) // several chunks
	mustOK(t, xftp(t, "upload", file, "--server", d.addr, "--recipients", "3", "-q"), "upload")
	rcv1, rcv2 := filepath.Join(file+".xftp", "rcv1.xftp"), filepath.Join(file+".xftp", "rcv2.xftp")
	out := filepath.Join(dir, "out.bin")
	mustOK(t, xftp(t, "download", filepath.Join(file+".xftp", "rcv3.xftp"), "-o", out, "-q"), "download")
	sameFile(t, file, out)

	// Keys per master: the records of one file already spread.
	cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: strings.Split(addrs, ",")})
	defer cc.Close()
	var mu sync.Mutex
	perMaster := map[string]int{}
	err := cc.ForEachMaster(t.Context(), func(ctx context.Context, m *goredis.Client) error {
		n := 0
		iter := m.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			n++
		}
		mu.Lock()
		perMaster[m.Options().Addr] = n
		mu.Unlock()
		return iter.Err()
	})
	if err != nil {
		t.Fatalf("counting keys per master: %v", err)
	}
	t.Logf("keys per master: %v", perMaster)
	if len(perMaster) != 3 {
		t.Fatalf("keys on %d masters, want 3: %v", len(perMaster), perMaster)
	}

	// Takedown: blocked for every recipient.
	admin, err := os.ReadFile(filepath.Join(data, "admin.address"))
	if err != nil {
		t.Fatal(err)
	}
	blk := xftp(t, "admin", "block", rcv1, "--reason", "content", "--admin", strings.TrimSpace(string(admin)),
		"--token-file", filepath.Join(data, "admin.token"))
	mustOK(t, blk, "admin block")
	mustFail(t, xftp(t, "download", rcv2, "-o", out+"2", "-q"), "download of a blocked file", "blocked by the operator")
}

// loadResult is what a failover load run saw.
type loadResult struct {
	ops, retried atomic.Int64
	unavailable  atomic.Int64 // 503 answers the clients retried
	retryAfter   atomic.Int64 // the largest Retry-After seen, seconds
	descs        []*chunk.Description
	files        [][]byte
}

// failoverLoad runs workers that each upload and download small files,
// iterations times, through server; after the first few operations it
// calls kill. Every operation must succeed (the clients ride the failover
// out), and afterwards every uploaded file must download intact. It
// returns how long /readyz answered anything but 200.
func failoverLoad(t *testing.T, d *daemon, kill func()) (res *loadResult, notReady time.Duration) {
	t.Helper()
	server := d.addr
	defer func() {
		if t.Failed() {
			log := d.stderr.String()
			t.Logf("xftpd's log (last 3000 bytes):\n%s", log[max(0, len(log)-3000):])
		}
	}()
	const workers, iterations = 4, 12
	res = &loadResult{}
	dir := t.TempDir()
	var killOnce sync.Once
	var mu sync.Mutex
	opts := client.Options{Parallel: 2, Progress: func(e client.Event) {
		if !e.Retry {
			return
		}
		res.retried.Add(1)
		var ae *api.Error
		if asAPIError(e.Err, &ae) && ae.Status == http.StatusServiceUnavailable {
			res.unavailable.Add(1)
			if s := int64(ae.RetryAfter / time.Second); s > res.retryAfter.Load() {
				res.retryAfter.Store(s)
			}
		}
	}}
	stopProbe := make(chan struct{})
	probeDone := make(chan time.Duration)
	go func() { probeDone <- probeReadyz(t, server, stopProbe) }()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range iterations {
				if res.ops.Load() >= 8 {
					killOnce.Do(kill)
				}
				path := filepath.Join(dir, fmt.Sprintf("w%d-%d.bin", w, i))
				body := writeRandom(t, path, 100<<10)
				up, err := client.UploadFile(t.Context(), client.UploadFileRequest{Path: path, Servers: []string{server}, Recipients: 1}, opts)
				if err != nil {
					t.Errorf("upload %d/%d: %v", w, i, err)
					return
				}
				res.ops.Add(1)
				out := path + ".out"
				if _, err := client.DownloadFile(t.Context(), client.DownloadFileRequest{Description: up.Recipients[0], Output: out, Keep: true}, opts); err != nil {
					t.Errorf("download %d/%d: %v", w, i, err)
					return
				}
				res.ops.Add(1)
				mu.Lock()
				res.descs = append(res.descs, up.Recipients[0])
				res.files = append(res.files, body)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(stopProbe)
	notReady = <-probeDone
	if t.Failed() {
		t.FailNow()
	}
	// Nothing acknowledged was lost: every file downloads again.
	for i, d := range res.descs {
		out := filepath.Join(dir, fmt.Sprintf("again-%d.bin", i))
		if _, err := client.DownloadFile(t.Context(), client.DownloadFileRequest{Description: d, Output: out, Keep: true}, client.Options{}); err != nil {
			t.Fatalf("file %d after the failover: %v", i, err)
		}
		if got := mustRead(t, out); string(got) != string(res.files[i]) {
			t.Fatalf("file %d differs after the failover", i)
		}
	}
	return res, notReady
}

func asAPIError(err error, ae **api.Error) bool { return errors.As(err, ae) }

// probeReadyz polls /readyz until stop and returns the total time it did
// not answer 200.
func probeReadyz(t *testing.T, addr string, stop chan struct{}) time.Duration {
	var down time.Duration
	var since time.Time
	for {
		select {
		case <-stop:
			if !since.IsZero() {
				down += time.Since(since)
			}
			return down
		case <-time.After(100 * time.Millisecond):
		}
		ok := readyzStatus(addr) == 200
		switch {
		case !ok && since.IsZero():
			since = time.Now()
		case ok && !since.IsZero():
			down += time.Since(since)
			since = time.Time{}
		}
	}
}

func readyzStatus(addr string) int {
	c := &http.Client{Timeout: 5 * time.Second, Transport: insecureTransport()}
	defer c.CloseIdleConnections()
	resp, err := c.Get("https://" + hostOf(addr) + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestClusterMasterKilledUnderLoad kills a Redis Cluster master (kill -9)
// while clients upload and download through xftpd: its replica takes over,
// clients ride the outage out on 503 + Retry-After, and nothing
// acknowledged is lost.
func TestClusterMasterKilledUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a failover takes seconds")
	}
	c := startRedisCluster(t)
	dir := t.TempDir()
	cfg, _ := redisConfig(t, dir, clusterRedis(c.addresses()))
	d := startDaemon(t, filepath.Join(dir, "data"), "--config", cfg)
	victim := c.master(t, "{"+"ru"+"}") // group 0's master
	var killedAt time.Time
	res, notReady := failoverLoad(t, d, func() { killedAt = time.Now(); victim.kill() })
	t.Logf("master %s killed; %d operations, %d retries, %d of them on 503 (Retry-After up to %ds); /readyz not ready for %.1fs; run %.1fs after the kill",
		victim.addr(), res.ops.Load(), res.retried.Load(), res.unavailable.Load(), res.retryAfter.Load(), notReady.Seconds(), time.Since(killedAt).Seconds())
}

// TestSentinelFailoverUnderLoad kills the master of a Sentinel set (one
// master, one replica, three Sentinels) while clients work through xftpd:
// the Sentinels promote the replica, xftpd follows, nothing is lost.
func TestSentinelFailoverUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a failover takes seconds")
	}
	dir := t.TempDir()
	base := []string{"--bind", "127.0.0.1", "--save", "", "--appendonly", "no"}
	mp, rp := freePort(t), freePort(t)
	master := startRedisProc(t, filepath.Join(dir, "master"), mp, append([]string{"--port", strconv.Itoa(mp)}, base...)...)
	startRedisProc(t, filepath.Join(dir, "replica"), rp,
		append([]string{"--port", strconv.Itoa(rp), "--replicaof", "127.0.0.1", strconv.Itoa(mp)}, base...)...)
	var sentinels []string
	for i := range 3 {
		sp := freePort(t)
		sdir := filepath.Join(dir, fmt.Sprintf("s%d", i))
		os.MkdirAll(sdir, 0o700)
		conf := filepath.Join(sdir, "sentinel.conf")
		os.WriteFile(conf, []byte(fmt.Sprintf("port %d\nbind 127.0.0.1\nsentinel monitor xftp 127.0.0.1 %d 2\n"+
			"sentinel down-after-milliseconds xftp 1000\nsentinel failover-timeout xftp 5000\n", sp, mp)), 0o600)
		startRedisProc(t, sdir, sp, conf, "--sentinel")
		sentinels = append(sentinels, fmt.Sprintf("127.0.0.1:%d", sp))
	}
	// The replica must be in sync before the master dies.
	mc := goredis.NewClient(&goredis.Options{Addr: master.addr()})
	defer mc.Close()
	testenv.Eventually(t, 20*time.Second, func() bool {
		info, _ := mc.Info(t.Context(), "replication").Result()
		return strings.Contains(info, "state=online")
	}, "no replica in sync")
	cfg, _ := redisConfig(t, dir, "  addresses: ["+strings.Join(sentinels, ",")+"]\n  sentinel:\n    master_name: xftp\n")
	d := startDaemon(t, filepath.Join(dir, "data"), "--config", cfg)
	var killedAt time.Time
	res, notReady := failoverLoad(t, d, func() { killedAt = time.Now(); master.kill() })
	t.Logf("Sentinel master killed; %d operations, %d retries, %d of them on 503 (Retry-After up to %ds); /readyz not ready for %.1fs; run %.1fs after the kill",
		res.ops.Load(), res.retried.Load(), res.unavailable.Load(), res.retryAfter.Load(), notReady.Seconds(), time.Since(killedAt).Seconds())
}

func insecureTransport() *http.Transport {
	return &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
}
