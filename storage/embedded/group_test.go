package embedded

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

var testBucket = []byte("test")

func newGroup(t *testing.T) *groupCommit {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "g.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket(testBucket)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return &groupCommit{db: db}
}

func putKey(k string) func(*bolt.Tx) error {
	return func(tx *bolt.Tx) error { return tx.Bucket(testBucket).Put([]byte(k), []byte("v")) }
}

func keys(t *testing.T, g *groupCommit) map[string]bool {
	t.Helper()
	got := map[string]bool{}
	g.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(testBucket).ForEach(func(k, _ []byte) error {
			got[string(k)] = true
			return nil
		})
	})
	return got
}

// inOneGroup runs fns so that they share one group: a first write holds
// the loop inside its transaction until all of fns are queued.
func inOneGroup(t *testing.T, g *groupCommit, fns ...func(*bolt.Tx) error) []error {
	t.Helper()
	release, started := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- g.update(func(tx *bolt.Tx) error {
			close(started)
			<-release
			return nil
		})
	}()
	<-started // the loop is inside the first write's transaction
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		// One at a time, so that the group's order is fns' order.
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = g.update(fn)
		}()
		deadline := time.Now().Add(10 * time.Second)
		for {
			g.mu.Lock()
			n := len(g.queue)
			g.mu.Unlock()
			if n == i+1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("write %d was not queued", i)
			}
			time.Sleep(time.Millisecond)
		}
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	return errs
}

func TestGroupCommitConcurrentWrites(t *testing.T) {
	g := newGroup(t)
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- g.update(putKey(fmt.Sprint(i)))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := keys(t, g); len(got) != n {
		t.Fatalf("%d keys committed, want %d", len(got), n)
	}
}

func TestGroupCommitFailureLeavesNoTrace(t *testing.T) {
	g := newGroup(t)
	boom := errors.New("boom")
	errs := inOneGroup(t, g,
		putKey("a"),
		func(tx *bolt.Tx) error {
			if err := tx.Bucket(testBucket).Put([]byte("half"), []byte("v")); err != nil {
				return err
			}
			return boom
		},
		putKey("b"),
		func(*bolt.Tx) error { panic("bad write") },
		putKey("c"),
	)
	if errs[0] != nil || errs[2] != nil || errs[4] != nil {
		t.Errorf("good writes failed: %v", errs)
	}
	if !errors.Is(errs[1], boom) {
		t.Errorf("failed write: %v, want its own error", errs[1])
	}
	if errs[3] == nil {
		t.Error("a panicking write returned nil")
	}
	got := keys(t, g)
	if !got["a"] || !got["b"] || !got["c"] || got["half"] || len(got) != 3 {
		t.Errorf("committed %v, want a, b and c only", got)
	}
	// The loop survived the panic.
	if err := g.update(putKey("d")); err != nil || !keys(t, g)["d"] {
		t.Errorf("write after the panic: %v", err)
	}
}

func TestGroupCommitConflictingWritesSerialize(t *testing.T) {
	g := newGroup(t)
	errExists := errors.New("exists")
	createOnce := func(name string) func(*bolt.Tx) error {
		return func(tx *bolt.Tx) error {
			b := tx.Bucket(testBucket)
			if b.Get([]byte("k")) != nil {
				return errExists
			}
			return b.Put([]byte("k"), []byte(name))
		}
	}
	errs := inOneGroup(t, g, createOnce("x"), createOnce("y"))
	nilCount := 0
	for _, err := range errs {
		switch {
		case err == nil:
			nilCount++
		case !errors.Is(err, errExists):
			t.Errorf("unexpected error %v", err)
		}
	}
	if nilCount != 1 {
		t.Fatalf("%d of two conflicting creates succeeded: %v", nilCount, errs)
	}
	var v []byte
	g.db.View(func(tx *bolt.Tx) error {
		v = append(v, tx.Bucket(testBucket).Get([]byte("k"))...)
		return nil
	})
	want := "x"
	if errs[0] != nil {
		want = "y"
	}
	if string(v) != want {
		t.Errorf("k = %q, want the winner %q", v, want)
	}
}

// BenchmarkWrites compares the group commit with bolt.DB.Batch (at the
// 2 ms MaxBatchDelay this package used before) for record-sized writes
// from 1 and from 64 concurrent writers, side by side in one run.
func BenchmarkWrites(b *testing.B) {
	value := make([]byte, 300)
	for _, writers := range []int{1, 64} {
		for _, how := range []string{"group", "batch"} {
			b.Run(fmt.Sprintf("%s/writers=%d", how, writers), func(b *testing.B) {
				db, err := bolt.Open(filepath.Join(b.TempDir(), "g.db"), 0o600, nil)
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				db.MaxBatchDelay = 2 * time.Millisecond
				db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket(testBucket); return err })
				g := &groupCommit{db: db}
				update := g.update
				if how == "batch" {
					update = db.Batch
				}
				var next atomic.Int64
				write := func() error {
					k := fmt.Appendf(nil, "%016d", next.Add(1))
					return update(func(tx *bolt.Tx) error { return tx.Bucket(testBucket).Put(k, value) })
				}
				if writers == 1 {
					for b.Loop() {
						if err := write(); err != nil {
							b.Fatal(err)
						}
					}
					return
				}
				b.SetParallelism(max(1, writers/runtime.GOMAXPROCS(0)))
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := write(); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}
