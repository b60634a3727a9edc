package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/xftp/xftp/chunk"
)

// downloadProgress records which data chunks of a resumable download are
// written and synced in its partial file.
type downloadProgress struct {
	path string // of the state file
	mu   sync.Mutex
	Done map[int]bool `json:"done"`
	// Inode and Size tie the state to its partial file: a state whose
	// partial was replaced, or removed and made anew (inode numbers are
	// reused, but a new file is empty), is ignored.
	Inode uint64 `json:"inode"`
	Size  int64  `json:"size"`
	last  time.Time
}

// openPartial opens (or creates) the partial file of d in dir and the
// progress saved with it. The name derives from the file key, so the same
// description finds it again; it is hidden and mode 0600, and locked while
// a download uses it.
func openPartial(dir string, d *chunk.Description) (*os.File, *downloadProgress, error) {
	h := sha256.Sum256(append([]byte("xftp partial download\x00"), d.Key...))
	base := filepath.Join(dir, ".xftp-"+hex.EncodeToString(h[:8])+".partial")
	f, err := os.OpenFile(base, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("another download of this file is running in %s", dir)
	}
	p := &downloadProgress{path: base + ".state", Done: map[int]bool{}, Inode: inode(f)}
	if b, err := os.ReadFile(p.path); err == nil {
		var saved downloadProgress
		if json.Unmarshal(b, &saved) == nil && saved.Done != nil && saved.Inode == p.Inode && p.Inode != 0 &&
			saved.Size > 0 && fileSize(f) >= saved.Size {
			p.Done = saved.Done
		}
	}
	if len(p.Done) == 0 {
		// Nothing trustworthy was saved: start the partial over.
		if err := f.Truncate(0); err != nil {
			f.Close()
			return nil, nil, err
		}
	}
	// Chunk 0 holds the header the Opener needs: always fetch it again.
	delete(p.Done, 0)
	return f, p, nil
}

func fileSize(f *os.File) int64 {
	fi, err := f.Stat()
	if err != nil {
		return -1
	}
	return fi.Size()
}

func inode(f *os.File) uint64 {
	fi, err := f.Stat()
	if err != nil {
		return 0
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// any reports whether some chunk is written (worth keeping for a resume).
func (p *downloadProgress) any() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.Done) > 0
}

// unlock releases the partial for the next download.
func (p *downloadProgress) unlock(f *os.File) {
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}

func (p *downloadProgress) done(i int) bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.Done[i]
}

// mark records chunk i as written and, at most every 200 ms, syncs the
// partial file and saves the state (so the state never claims unsynced data).
func (p *downloadProgress) mark(f *os.File, i int) error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	p.Done[i] = true
	p.mu.Unlock()
	return p.save(f, false)
}

func (p *downloadProgress) save(f *os.File, force bool) error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !force && time.Since(p.last) < 200*time.Millisecond {
		return nil
	}
	if err := f.Sync(); err != nil {
		return err
	}
	p.Size = fileSize(f)
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	p.last = time.Now()
	return writeFileAtomic(p.path, b)
}

func (p *downloadProgress) remove() {
	if p != nil {
		os.Remove(p.path)
	}
}

// resumable reports whether keeping a partial download for later makes
// sense after err: interruptions and unreachable servers, not a file that
// fails verification or a server that refuses for good.
func resumable(err error) bool {
	var be *BlockedError
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return true
	case errors.Is(err, errServersUnreachable):
		return true
	case errors.As(err, &be), errors.Is(err, chunk.ErrTooManyErasures):
		return false
	}
	return temporary(err)
}
