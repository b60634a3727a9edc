package client

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The file front end and the local state are the only files of the
// package that reach the file system; the engine (everything else) works
// on readers and writers. A file of the engine that imports os or
// path/filepath fails here: put what it needs in the front end.
func TestOnlyTheFrontEndTouchesFiles(t *testing.T) {
	frontEnd := []string{
		"files.go", "simplex_files.go", "partial.go", "state.go", // files, temporary names, resume
		"localstate.go", "restrictions.go", "appeal.go", "sent.go", // local state
		"filelock_unix.go", "filelock_windows.go", "filelock_other.go",
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	engine := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") || slices.Contains(frontEnd, name) {
			continue
		}
		engine++
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "os" || p == "path/filepath" {
				t.Errorf("%s (engine) imports %s", name, p)
			}
		}
	}
	if engine < 10 {
		t.Fatalf("only %d engine files found", engine)
	}
}
