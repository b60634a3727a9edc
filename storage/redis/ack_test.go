package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xftp/xftp/internal/testenv"
	"github.com/xftp/xftp/storage"
	"github.com/xftp/xftp/storage/storagetest"
)

// startServer runs a private redis-server on a free loopback port with
// args, stopped when the test ends.
func startServer(t *testing.T, args ...string) (addr string, cmd *exec.Cmd) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	addr = "127.0.0.1:" + strconv.Itoa(port)
	cmd = exec.Command(testenv.RedisServer(t), append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", t.TempDir()}, args...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGCONT)
		cmd.Process.Kill()
		cmd.Wait()
	})
	c := newClient(t, addr)
	testenv.Eventually(t, 10*time.Second, func() bool { return c.Ping(t.Context()).Err() == nil }, "redis-server did not start")
	return addr, cmd
}

// TestAckWaitsForReplica checks that a write is acknowledged only once a
// replica holds it: with the replica stopped (SIGSTOP: connected, but
// silent), Create fails as unavailable instead of answering; once the
// replica runs again, writes are acknowledged. A master without replicas
// (the replica gone) acknowledges at once.
func TestAckWaitsForReplica(t *testing.T) {
	master, _ := startServer(t)
	_, replica := startServer(t, "--replicaof", "127.0.0.1", strings.TrimPrefix(master, "127.0.0.1:"))
	c := dial(t, ClientOptions{Addresses: []string{master}})
	ctx := t.Context()
	testenv.Eventually(t, 10*time.Second, func() bool {
		info, _ := c.Info(ctx, "replication").Result()
		return strings.Contains(info, "state=online")
	}, "the replica did not sync")
	r, err := Open(ctx, c, newPrefix(t, c))
	if err != nil {
		t.Fatal(err)
	}
	r.SetAcker(NewAcker(c, r.prefix, 1, 300*time.Millisecond))
	if err := r.Create(ctx, storagetest.NewRecord(10, 1, time.Hour), 0); err != nil {
		t.Fatalf("create with the replica in sync: %v", err)
	}

	replica.Process.Signal(syscall.SIGSTOP)
	rec := storagetest.NewRecord(10, 1, time.Hour)
	if err := r.Create(ctx, rec, 0); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("create with the replica stopped: %v, want ErrUnavailable", err)
	}
	if _, err := r.SetUploaded(ctx, rec.Key, ""); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("set uploaded with the replica stopped: %v, want ErrUnavailable", err)
	}
	replica.Process.Signal(syscall.SIGCONT)
	// The create's retry finds the record by its sender key, held by the
	// replica now.
	got, err := r.BySenderKey(ctx, rec.SenderKey)
	if err != nil || got.Key != rec.Key {
		t.Fatalf("retry's lookup: %v, %v", got, err)
	}
	if _, err := r.Delete(ctx, rec.Key); err != nil {
		t.Fatalf("delete with the replica running: %v", err)
	}

	replica.Process.Kill()
	replica.Wait()
	testenv.Eventually(t, 10*time.Second, func() bool {
		info, _ := c.Info(ctx, "replication").Result()
		return strings.Contains(info, "connected_slaves:0")
	}, "the master still lists its replica")
	if err := r.Create(ctx, storagetest.NewRecord(10, 1, time.Hour), 0); err != nil {
		t.Fatalf("create on a master without replicas: %v", err)
	}
}

// TestAckCluster checks that Ack finds the master of each key on a
// cluster (keys of every master) and that each has its replica.
func TestAckCluster(t *testing.T) {
	c := dial(t, clusterOptions(t))
	prefix := newPrefix(t, c)
	a := NewAcker(c, prefix, 1, 0)
	var names []string
	for _, tag := range groupTags() {
		names = append(names, prefix+"{"+tag+"}:x")
	}
	if err := a.Ack(t.Context(), names...); err != nil {
		t.Fatal(err)
	}
	a = NewAcker(c, prefix, 0, 0)
	if err := a.Ack(t.Context(), names...); err != nil {
		t.Fatal(err)
	}
	var nilAcker *Acker
	if err := nilAcker.Ack(t.Context(), names...); err != nil {
		t.Fatal(err)
	}
}

func TestSlotTags(t *testing.T) {
	for slot, tag := range slotTags() {
		if got := Slot("x{" + tag + "}y"); got != slot {
			t.Fatalf("tag %q of slot %d lands in slot %d", tag, slot, got)
		}
	}
	for _, v := range []any{nil, "x", []any{"slave", int64(1), "x"}, []any{"master", int64(3)}} {
		if n := connectedReplicas(v); n != 0 {
			t.Fatalf("connectedReplicas(%v) = %d", v, n)
		}
	}
	if n := connectedReplicas([]any{"master", int64(3), []any{[]any{"127.0.0.1", "1", "3"}}}); n != 1 {
		t.Fatalf("one replica: %d", n)
	}
}

// BenchmarkCreateAck is the cost of waiting for a replica (WAIT) on a
// create and its delete, on the cluster and the Sentinel set: compare
// replicas_ack=0 and =1.
func BenchmarkCreateAck(b *testing.B) {
	sentinels, master := testenv.RedisSentinel(b)
	for _, d := range []struct {
		name string
		o    ClientOptions
	}{
		{"Cluster", ClientOptions{Addresses: testenv.RedisCluster(b), Cluster: true}},
		{"Sentinel", ClientOptions{Addresses: sentinels, MasterName: master}},
	} {
		for _, n := range []int{0, 1} {
			b.Run(fmt.Sprintf("%s/replicas_ack=%d", d.name, n), func(b *testing.B) {
				c, err := NewClient(d.o)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				var pfx [6]byte
				rand.Read(pfx[:])
				prefix := "bench" + hex.EncodeToString(pfx[:]) + ":"
				defer func() {
					for _, k := range keys(context.Background(), c, prefix+"*") {
						c.Del(context.Background(), k)
					}
				}()
				r, err := Open(b.Context(), c, prefix)
				if err != nil {
					b.Fatal(err)
				}
				r.SetAcker(NewAcker(c, r.prefix, n, 0))
				for b.Loop() {
					rec := storagetest.NewRecord(65536, 1, time.Hour)
					if err := r.Create(b.Context(), rec, 0); err != nil {
						b.Fatal(err)
					}
					if _, err := r.Delete(b.Context(), rec.Key); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
