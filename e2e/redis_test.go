package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/xftp/xftp/internal/testenv"
)

// The shared Redis services (standalone, cluster, Sentinel) come from
// internal/testenv. The tests here that stop, kill or restart Redis run
// private redis-server processes instead; this file is the one place that
// starts them.

// redisProc is one private redis-server (a standalone, a cluster node, a
// Sentinel's master or replica, or a Sentinel) that a test may kill, stop
// and start again.
type redisProc struct {
	t    *testing.T
	bin  string
	dir  string
	port int
	args []string
	cmd  *exec.Cmd
	log  *os.File
}

// startRedisProc starts redis-server with args in dir (created), listening
// on port (which args name), and waits until it accepts connections. It is
// killed at cleanup.
func startRedisProc(t *testing.T, dir string, port int, args ...string) *redisProc {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	p := &redisProc{t: t, bin: testenv.RedisServer(t), dir: dir, port: port, args: args}
	t.Cleanup(p.kill)
	p.start()
	return p
}

// startAOFRedis starts a standalone Redis whose writes survive a restart
// (append-only file, fsync on every write), on a free port.
func startAOFRedis(t *testing.T) *redisProc {
	t.Helper()
	port := freePort(t)
	return startRedisProc(t, t.TempDir(), port, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "yes", "--appendfsync", "always")
}

func (p *redisProc) addr() string { return "127.0.0.1:" + strconv.Itoa(p.port) }

// start starts the process (again, after kill or stop) with the same
// arguments, folder and port.
func (p *redisProc) start() {
	p.t.Helper()
	p.cmd = exec.Command(p.bin, p.args...)
	p.cmd.Dir = p.dir
	if p.log == nil {
		var err error
		if p.log, err = os.OpenFile(filepath.Join(p.dir, "redis.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
			p.t.Fatal(err)
		}
		p.t.Cleanup(func() { p.log.Close() })
	}
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	waitDial(p.t, p.addr())
}

// kill ends the process at once (SIGKILL): a crash.
func (p *redisProc) kill() {
	if p.cmd != nil {
		p.cmd.Process.Kill()
		p.cmd.Wait()
		p.cmd = nil
	}
}

// killSynced kills p, a master, as kill does, once its replicas have every
// write it acknowledged: it pauses writes (CLIENT PAUSE WRITE: they wait,
// and fail when the master dies, so their clients retry on the replica
// promoted) and waits until each replica's offset reaches the master's.
// Redis replication is asynchronous: a plain kill -9 can lose a write
// acknowledged in its last moments (docs/SCALING.md), which is Redis's and
// not what the failover tests check. It may run on a test's worker
// goroutine: a failure is an error, and p is killed all the same.
func (p *redisProc) killSynced() {
	defer p.kill()
	c := goredis.NewClient(&goredis.Options{Addr: p.addr()})
	defer c.Close()
	ctx := context.Background()
	if err := c.Do(ctx, "CLIENT", "PAUSE", "60000", "WRITE").Err(); err != nil {
		p.t.Errorf("pausing the master's writes: %v", err)
		return
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		info, err := c.Info(ctx, "replication").Result()
		if err == nil && replicasCaughtUp(info) {
			return
		}
		if time.Now().After(deadline) {
			p.t.Errorf("the replicas did not catch up with the master within 30 s (%v):\n%s", err, info)
			return
		}
		time.Sleep(20 * time.Millisecond) // polling INFO
	}
}

// replicasCaughtUp reports whether the master's INFO replication names at
// least one replica and each has the master's replication offset.
func replicasCaughtUp(info string) bool {
	var master string
	var offsets []string
	for _, line := range strings.Split(info, "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "master_repl_offset:"); ok {
			master = v
		} else if strings.HasPrefix(line, "slave") && strings.Contains(line, ":ip=") {
			for _, kv := range strings.Split(line, ",") {
				if v, ok := strings.CutPrefix(kv, "offset="); ok {
					offsets = append(offsets, v)
				}
			}
		}
	}
	if master == "" || len(offsets) == 0 {
		return false
	}
	for _, o := range offsets {
		if o != master {
			return false
		}
	}
	return true
}

// stop shuts the process down (SIGTERM: Redis flushes its append-only
// file), killing it if it has not exited within 10 s.
func (p *redisProc) stop() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
	p.cmd = nil
}

// restart stops the process and starts it again on the same folder and
// port.
func (p *redisProc) restart() {
	p.t.Helper()
	p.stop()
	p.start()
}
