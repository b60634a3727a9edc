package embedded

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// maxGroup bounds how many writes share one transaction.
const maxGroup = 1000

// linger is how long the loop lets writes gather after a commit that was
// shared: under load, bigger groups mean fewer commits (and less journal
// work). A write that finds the loop idle commits at once; one that
// arrives just after a shared commit may wait up to linger.
const linger = 2 * time.Millisecond

// groupCommit runs write functions in shared transactions: a write that
// arrives while a commit is in flight waits for it, then commits together
// with every write that arrived meanwhile. A lone write commits at once,
// and under load one commit (two fdatasyncs) covers many writes.
//
// bolt.DB.Batch shares commits too, but it holds every batch open for a
// timer (MaxBatchDelay) first: a lone 64 KiB upload, which makes two
// record writes, spent most of its time waiting for those timers
// (docs/BENCHMARKS.md). Without the timer (MaxBatchDelay 0), its batches
// shrink to one or two writes under load and each pays its own commit.
//
// As with Batch, a function may run more than once (when another function
// in its group fails, the group's transaction is rolled back and run again
// without it), so it must set its results afresh on each run.
type groupCommit struct {
	db *bolt.DB
	// txs counts the write transactions run (tests).
	txs atomic.Int64

	mu      sync.Mutex
	queue   []groupCall
	running bool
}

type groupCall struct {
	fn   func(*bolt.Tx) error
	done chan error
}

// update runs fn in a read-write transaction shared with other writes and
// returns once that transaction has committed (nil) or fn's error.
func (g *groupCommit) update(fn func(*bolt.Tx) error) error {
	c := groupCall{fn: fn, done: make(chan error, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, c)
	if !g.running {
		g.running = true
		go g.loop()
	}
	g.mu.Unlock()
	return <-c.done
}

// loop commits the queued writes, group by group, until none are left.
func (g *groupCommit) loop() {
	shared := false
	for {
		if shared {
			time.Sleep(linger)
		}
		g.mu.Lock()
		calls := g.queue
		if len(calls) > maxGroup {
			calls = calls[:maxGroup:maxGroup]
			g.queue = g.queue[maxGroup:]
		} else {
			g.queue = nil
		}
		if len(calls) == 0 {
			g.running = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		g.commit(calls)
		shared = len(calls) > 1
	}
}

// commit runs calls in one transaction. If one fails, the transaction is
// rolled back; the failed call runs alone, for its own answer (it may
// have failed only because of an earlier call in the group, and succeed
// alone), and the rest run again without it.
func (g *groupCommit) commit(calls []groupCall) {
	for len(calls) > 0 {
		failed := -1
		g.txs.Add(1)
		err := g.db.Update(func(tx *bolt.Tx) error {
			for i, c := range calls {
				if err := safeCall(c.fn, tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed < 0 {
			for _, c := range calls {
				c.done <- err
			}
			return
		}
		c := calls[failed]
		g.txs.Add(1)
		c.done <- g.db.Update(func(tx *bolt.Tx) error { return safeCall(c.fn, tx) })
		rest := make([]groupCall, 0, len(calls)-1)
		calls = append(append(rest, calls[:failed]...), calls[failed+1:]...)
	}
}

// safeCall turns a panic in fn into an error, so that one bad write
// cannot stop the loop that serves all the others.
func safeCall(fn func(*bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("embedded records: panic in a write: %v", p)
		}
	}()
	return fn(tx)
}
