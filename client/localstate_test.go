package client

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

type testState struct {
	Version int    `json:"version"`
	Note    string `json:"note"`
}

// The one state-file helper: what it saves it loads; another version, bad
// JSON and a file above the bound are refused as damaged, not read whole;
// a value above the bound is not written.
func TestLocalFile(t *testing.T) {
	dir := t.TempDir()
	f := localFile{path: filepath.Join(dir, "sub", "state.json"), version: 3, limit: 200}
	var got testState
	if found, err := f.load(&got); found || err != nil {
		t.Fatalf("missing file: %v, %v", found, err)
	}
	if err := f.save(testState{Version: 3, Note: "hello"}); err != nil {
		t.Fatal(err)
	}
	if found, err := f.load(&got); !found || err != nil || got.Note != "hello" {
		t.Fatalf("load after save: %v, %v, %+v", found, err, got)
	}
	if fi, err := os.Stat(f.path); err != nil || (runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600) {
		t.Fatalf("mode: %v, %v", fi.Mode(), err)
	}
	for name, content := range map[string]string{
		"other version": `{"version": 2, "note": "x"}`,
		"no version":    `{"note": "x"}`,
		"not JSON":      `{"version": 3,`,
		"too large":     `{"version": 3, "note": "` + strings.Repeat("x", 300) + `"}`,
	} {
		if err := os.WriteFile(f.path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := f.load(&got); !errors.Is(err, errDamagedState) {
			t.Errorf("%s: %v, want errDamagedState", name, err)
		}
	}
	os.WriteFile(f.path, []byte(`{"version": 3, "note": "kept"}`), 0o600)
	if err := f.save(testState{Version: 3, Note: strings.Repeat("y", 300)}); err == nil {
		t.Fatal("a state above the bound was written")
	}
	if _, err := f.load(&got); err != nil || got.Note != "kept" {
		t.Fatalf("a refused save changed the file: %+v, %v", got, err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(f.path)); len(ents) != 1 {
		t.Fatalf("temporary files left: %v", ents)
	}
	if err := f.remove(); err != nil {
		t.Fatal(err)
	}
	if err := f.remove(); err != nil {
		t.Fatalf("removing a missing file: %v", err)
	}
}

// A SimpleX download's partial state goes through the helper: versioned,
// mode 0600; a state of another version is not trusted (the chunks are
// fetched again).
func TestSimplexPartialStateIsVersioned(t *testing.T) {
	fn := newFakeNet(1)
	path, data := writeRandom(t, t.TempDir(), "f", 12<<20-100) // 3 chunks
	d := testSimplexUpload(t, fn, path, 1).Recipients[0]
	failGets(fn, d.Chunks[2].Digest) // the first run keeps chunks 1 and 2
	dir := t.TempDir()
	req := SimplexDownloadFileRequest{Description: d, Dir: dir, Resume: true, dial: fn.dial}
	if _, err := DownloadSimplexFile(context.Background(), req, Options{Parallel: 1, Attempts: 1}); err == nil {
		t.Fatal("the first run did not fail")
	}
	states, _ := filepath.Glob(filepath.Join(dir, ".xftp-simplex-*.partial.state"))
	if len(states) != 1 {
		t.Fatalf("states: %v", states)
	}
	var st simplexPartial
	if found, err := (localFile{path: states[0], version: simplexPartialVersion}).load(&st); !found || err != nil || len(st.Done) != 2 {
		t.Fatalf("state: %v, %v, done %v", found, err, st.Done)
	}
	if fi, _ := os.Stat(states[0]); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	b, _ := os.ReadFile(states[0])
	os.WriteFile(states[0], bytes.Replace(b, []byte(`"version": 1`), []byte(`"version": 0`), 1), 0o600)
	// A state of another version is not trusted: all 3 chunks again.
	resumeSimplex(t, fn, req, data, 3)
}
