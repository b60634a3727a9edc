package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// The client's local state (restrictions.json, lifted.json, sent.json, and
// the resume state of uploads and downloads) is JSON with a "version"
// field, written atomically with mode 0600. These two functions are the
// one way to read and write such a file.

// errDamagedState is a state file that is not JSON of its version.
var errDamagedState = errors.New("damaged")

// loadVersioned reads the JSON file at path into v, whose "version" must be
// version. A missing file leaves v alone and returns false, nil.
func loadVersioned(path string, version int, v any) (bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var hdr struct {
		Version int `json:"version"`
	}
	if json.Unmarshal(b, &hdr) != nil || hdr.Version != version || json.Unmarshal(b, v) != nil {
		return false, fmt.Errorf("%s: %w", path, errDamagedState)
	}
	return true, nil
}

// saveVersioned writes v (which carries its own "version") as indented
// JSON to path, atomically and with mode 0600.
func saveVersioned(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'))
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
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
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
