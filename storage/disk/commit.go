package disk

import (
	"os"
	"sync"
)

// groupSync makes directory entries durable for many Puts at once (group
// commit). A Put that has renamed its file into place calls wait; wait
// returns once a sync that started after the call has finished. While one
// round of syncs runs, the Puts that arrive meanwhile queue up and share
// the next round, so under load one flush covers many renames instead of
// one directory fsync per Put, and a lone Put waits for one sync as before.
type groupSync struct {
	// sync makes the entries of dirs durable.
	sync func(dirs map[string]struct{}) error

	mu      sync.Mutex
	dirs    map[string]struct{}
	waiters []chan error
	running bool
}

// wait returns once dir's entries, as of the call, are durable.
func (g *groupSync) wait(dir string) error {
	ch := make(chan error, 1)
	g.mu.Lock()
	if g.dirs == nil {
		g.dirs = make(map[string]struct{})
	}
	g.dirs[dir] = struct{}{}
	g.waiters = append(g.waiters, ch)
	if !g.running {
		g.running = true
		go g.loop()
	}
	g.mu.Unlock()
	return <-ch
}

func (g *groupSync) loop() {
	for {
		g.mu.Lock()
		dirs, waiters := g.dirs, g.waiters
		if len(waiters) == 0 {
			g.running = false
			g.mu.Unlock()
			return
		}
		g.dirs, g.waiters = nil, nil
		g.mu.Unlock()
		err := g.sync(dirs)
		for _, w := range waiters {
			w <- err
		}
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
