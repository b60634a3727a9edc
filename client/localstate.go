package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// The client's local state (restrictions.json, lifted.json, sent.json, and
// the resume state of uploads and downloads) is JSON with a "version"
// field, at most a bounded size, written atomically with mode 0600. A
// localFile is the one way to read and write such a file.

// errDamagedState is a state file that is not JSON of its version, or
// larger than its bound.
var errDamagedState = errors.New("damaged")

// maxLocalFile bounds the small state files (restrictions, lifted proofs,
// the sent index, partial downloads): a damaged or planted file is refused
// rather than read whole into memory.
const maxLocalFile = 16 << 20

// localFile is one versioned JSON state file.
type localFile struct {
	path    string
	version int   // the "version" the file must carry
	limit   int64 // bytes; maxLocalFile if 0
}

func (f localFile) max() int64 {
	if f.limit > 0 {
		return f.limit
	}
	return maxLocalFile
}

// load reads the file into v. A missing file leaves v alone and returns
// false, nil; a file that is not JSON of f.version, or larger than the
// bound, returns an error wrapping errDamagedState.
func (f localFile) load(v any) (bool, error) {
	fh, err := os.Open(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, f.max()+1))
	if err != nil {
		return false, err
	}
	if int64(len(b)) > f.max() {
		return false, fmt.Errorf("%s: larger than %d bytes: %w", f.path, f.max(), errDamagedState)
	}
	var hdr struct {
		Version int `json:"version"`
	}
	if json.Unmarshal(b, &hdr) != nil || hdr.Version != f.version || json.Unmarshal(b, v) != nil {
		return false, fmt.Errorf("%s: %w", f.path, errDamagedState)
	}
	return true, nil
}

// save writes v, which carries its own "version" (f.version), as JSON,
// atomically and with mode 0600. A v whose JSON exceeds the bound is not
// written: what is saved can always be loaded.
func (f localFile) save(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if int64(len(b)) >= f.max() {
		return fmt.Errorf("%s: state of %d bytes exceeds its bound of %d", f.path, len(b), f.max())
	}
	return writeFileAtomic(f.path, append(b, '\n'))
}

// remove deletes the file; a missing file is not an error.
func (f localFile) remove() error {
	if err := os.Remove(f.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// writeFileAtomic writes b to path (mode 0600) through a synced temporary
// file renamed into place, then syncs the directory.
func writeFileAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".xftp-tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	n, err := tmp.Write(b)
	if err == nil && n != len(b) {
		err = errors.New("short write")
	}
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err != nil {
		tmp.Close()
		return err
	}
	if err := syncClose(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
