package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

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
