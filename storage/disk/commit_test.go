package disk

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

// TestGroupSyncCoversEachWaiter checks the group commit's promise: wait
// returns only after a sync that started after wait was called, and that
// sync included the waiter's directory; a failed sync fails its round.
func TestGroupSyncCoversEachWaiter(t *testing.T) {
	var started, finished atomic.Int64
	boom := errors.New("boom")
	var mu sync.Mutex
	synced := map[string]int{}
	g := &groupSync{sync: func(dirs map[string]struct{}) error {
		started.Add(1)
		mu.Lock()
		for d := range dirs {
			synced[d]++
		}
		mu.Unlock()
		defer finished.Add(1)
		if _, ok := dirs["bad"]; ok {
			return boom
		}
		return nil
	}}
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dir := []string{"a", "b", "c"}[i%3]
			if i == 100 {
				dir = "bad"
			}
			before := started.Load()
			err := g.wait(dir)
			if finished.Load() <= before {
				t.Errorf("wait(%s) returned before a sync that started after it", dir)
			}
			if dir == "bad" && !errors.Is(err, boom) || err != nil && !errors.Is(err, boom) {
				t.Errorf("wait(%s) = %v", dir, err)
			}
		}()
	}
	wg.Wait()
	if synced["bad"] != 1 {
		t.Errorf("directory synced %d times, want 1", synced["bad"])
	}
	if n := started.Load(); n > 200 {
		t.Errorf("%d syncs for 200 waiters", n)
	}
}
