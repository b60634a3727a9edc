package client

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/xftp/xftp/chunk"
)

// downloadProgress records which data chunks of a resumable download are
// written and synced in its partial file.
type downloadProgress struct {
	file    localFile // the state file
	f       *os.File  // the partial file
	mu      sync.Mutex
	Version int          `json:"version"`
	Done    map[int]bool `json:"done"`
	// Inode and Size tie the state to its partial file: a state whose
	// partial was replaced, or removed and made anew (inode numbers are
	// reused, but a new file is empty), is ignored.
	Inode uint64 `json:"inode"`
	Size  int64  `json:"size"`
	// File binds the state to the whole description (see fileBinding):
	// another description with the same key, whose chunks an attacker
	// holding that key made, never resumes from this one's partial.
	File string `json:"file"`
	last time.Time
	// restored are the chunks taken from the partial file when it was
	// opened: they are checked again before the file is used (verifyRestored).
	restored []int
}

// partialVersion is the version of a partial download's state file.
const partialVersion = 1

// fileBinding identifies a file by everything its description says of
// its content: the key and every data chunk's size and digest.
func fileBinding(d *chunk.Description) [32]byte {
	h := sha256.New()
	h.Write([]byte("xftp partial download v2\x00"))
	h.Write(d.Key)
	var n [8]byte
	for _, c := range d.Chunks {
		binary.BigEndian.PutUint64(n[:], uint64(c.Size))
		h.Write(n[:])
		h.Write(c.Digest[:])
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// openPartial opens (or creates) the partial file of d in dir and the
// progress saved with it. The name derives from the whole description
// (fileBinding), so the same description finds it again and no other
// does; it is hidden and mode 0600, and locked while a download uses it.
func openPartial(dir string, d *chunk.Description) (*os.File, *downloadProgress, error) {
	h := fileBinding(d)
	base := filepath.Join(dir, ".xftp-"+hex.EncodeToString(h[:8])+".partial")
	f, err := os.OpenFile(base, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, err
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("another download of this file is running in %s", dir)
	}
	p := &downloadProgress{file: localFile{path: base + ".state", version: partialVersion}, Version: partialVersion,
		Done: map[int]bool{}, Inode: fileID(f), File: hex.EncodeToString(h[:]), f: f}
	// A state that cannot be read (damaged, or of another version) is not
	// trusted, like one for another partial: the partial starts over.
	var saved downloadProgress
	if found, err := p.file.load(&saved); found && err == nil && saved.Done != nil && saved.Inode == p.Inode && p.Inode != 0 &&
		saved.Size > 0 && fileSize(f) >= saved.Size && saved.File == p.File {
		p.Done = saved.Done
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
	for i, ok := range p.Done {
		if ok && i > 0 && i < len(d.Chunks) {
			p.restored = append(p.restored, i)
		} else {
			delete(p.Done, i)
		}
	}
	slices.Sort(p.restored)
	return f, p, nil
}

// verifyRestored checks the chunks taken from the partial file against
// the description, by encrypting their part of the file again (encryption
// is deterministic under the file key) and comparing the digests; it
// returns the chunks that differ and marks them not done. f holds the
// file (truncated to hdr.Size). The partial may have been changed on disk
// since it was saved, by anyone who can write to its directory.
func (p *downloadProgress) verifyRestored(d *chunk.Description, hdr chunk.Header, f *os.File) ([]int, error) {
	if p == nil || len(p.restored) == 0 {
		return nil, nil
	}
	s, err := chunk.NewSealer(d.Key, hdr.Name, f, hdr.Size)
	if err != nil {
		return nil, err
	}
	var bad []int
	for _, i := range p.restored {
		h := sha256.New()
		if _, err := io.Copy(h, s.Chunk(i)); err != nil {
			return nil, err
		}
		if [32]byte(h.Sum(nil)) != d.Chunks[i].Digest {
			bad = append(bad, i)
		}
	}
	p.mu.Lock()
	for _, i := range bad {
		delete(p.Done, i)
	}
	p.mu.Unlock()
	p.restored = nil
	return bad, nil
}

func fileSize(f *os.File) int64 {
	fi, err := f.Stat()
	if err != nil {
		return -1
	}
	return fi.Size()
}

// any reports whether some chunk is written (worth keeping for a resume).
func (p *downloadProgress) any() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.Done) > 0
}

// unlock releases the partial for the next download.
func (p *downloadProgress) unlock() {
	unlockFile(p.f)
}

func (p *downloadProgress) done(i int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.Done[i]
}

// mark records chunk i as written and, at most every 200 ms, syncs the
// partial file and saves the state (so the state never claims unsynced data).
func (p *downloadProgress) mark(i int) error {
	p.mu.Lock()
	p.Done[i] = true
	p.mu.Unlock()
	return p.save(false)
}

func (p *downloadProgress) save(force bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !force && time.Since(p.last) < 200*time.Millisecond {
		return nil
	}
	if err := p.f.Sync(); err != nil {
		return err
	}
	p.Size = fileSize(p.f)
	p.last = time.Now()
	return p.file.save(p)
}

func (p *downloadProgress) remove() {
	if p != nil {
		p.file.remove()
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
