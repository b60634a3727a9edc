package disk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/xftp/xftp/storage"
)

const tmpPrefix = ".tmp-"

// Store keeps bodies in files below a root directory, sharded by the first
// two characters of the key.
type Store struct {
	root string
	bufs sync.Pool
	// dirs holds the shard directories known to exist, so Put does not
	// stat them every time.
	dirs sync.Map
	// commit makes renamed bodies durable, shared between concurrent Puts.
	commit groupSync
}

var _ storage.Store = (*Store)(nil)

// Open returns a Store rooted at dir, creating it if needed, and removes
// temporary files left by an earlier crash.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("disk store: %w", err)
	}
	s := &Store{root: dir}
	s.bufs.New = func() any { b := make([]byte, 256<<10); return &b }
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), tmpPrefix) {
			return os.Remove(p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("disk store: cleaning temporary files: %w", err)
	}
	durable, err := durableRenames(dir)
	if err != nil {
		return nil, fmt.Errorf("disk store: %w", err)
	}
	s.commit.sync = durable
	return s, nil
}

func (s *Store) path(key string) (string, error) {
	if !storage.ValidName(key) {
		return "", fmt.Errorf("disk store: invalid key: %w", storage.ErrNotFound)
	}
	return filepath.Join(s.root, key[:2], key), nil
}

// Put implements storage.Store.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64) (err error) {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	f, err := s.createTemp(dir)
	if err != nil {
		return fmt.Errorf("disk store: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	n, err := io.CopyBuffer(onlyWriter{f}, ctxReader{ctx, io.LimitReader(r, size)}, *bp)
	if err != nil {
		return fmt.Errorf("disk store: writing body: %w", err)
	}
	if n != size {
		return fmt.Errorf("disk store: body has %d bytes, want %d: %w", n, size, io.ErrUnexpectedEOF)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("disk store: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("disk store: %w", err)
	}
	if err := os.Rename(f.Name(), p); err != nil {
		return fmt.Errorf("disk store: %w", err)
	}
	// Put returns only once the rename is durable too; concurrent Puts
	// share that flush (commit.go).
	if err := s.commit.wait(dir); err != nil {
		return fmt.Errorf("disk store: syncing directory: %w", err)
	}
	return nil
}

// createTemp creates a temporary file in the shard directory dir, making
// the directory the first time it is needed (or again if it was removed).
func (s *Store) createTemp(dir string) (*os.File, error) {
	if _, ok := s.dirs.Load(dir); ok {
		f, err := os.CreateTemp(dir, tmpPrefix+"*")
		if !errors.Is(err, fs.ErrNotExist) {
			return f, err
		}
		s.dirs.Delete(dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// A new shard directory's own entry in root must be durable before
	// anything in it can be.
	if err := syncDir(s.root); err != nil {
		return nil, err
	}
	s.dirs.Store(dir, struct{}{})
	return os.CreateTemp(dir, tmpPrefix+"*")
}

// Get implements storage.Store.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, 0, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, storage.ErrNotFound
	}
	if err != nil {
		return nil, 0, fmt.Errorf("disk store: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("disk store: %w", err)
	}
	return f, fi.Size(), nil
}

// Stat implements storage.Store.
func (s *Store) Stat(ctx context.Context, key string) (int64, error) {
	p, err := s.path(key)
	if err != nil {
		return 0, err
	}
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, storage.ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("disk store: %w", err)
	}
	return fi.Size(), nil
}

// Delete implements storage.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return nil
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("disk store: %w", err)
	}
	return nil
}

// List implements storage.Store.
func (s *Store) List(ctx context.Context, fn func(key string) error) error {
	shards, err := os.ReadDir(s.root)
	if err != nil {
		return fmt.Errorf("disk store: %w", err)
	}
	for _, sh := range shards {
		if !sh.IsDir() {
			continue
		}
		ents, err := os.ReadDir(filepath.Join(s.root, sh.Name()))
		if err != nil {
			return fmt.Errorf("disk store: %w", err)
		}
		for _, e := range ents {
			if err := ctx.Err(); err != nil {
				return err
			}
			if e.IsDir() || !storage.ValidName(e.Name()) {
				continue
			}
			if err := fn(e.Name()); err != nil {
				return err
			}
		}
	}
	return nil
}

// onlyWriter hides *os.File's ReadFrom so io.CopyBuffer uses our buffer.
type onlyWriter struct{ io.Writer }

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
