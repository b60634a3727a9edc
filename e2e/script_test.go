package e2e

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestScripts runs the CLI scripts in testdata/script against the built
// xftp and xftpd (age's way of testing a CLI): each script is what a user
// types, with the output it must see.
//
// Extra commands:
//
//	waitfile FILE            wait (up to 30s) until FILE exists and is not empty
//	setenvfile NAME FILE     set $NAME to FILE's content, trimmed
//	randfile FILE BYTES      write BYTES random bytes (suffixes k, M: KiB, MiB)
//	lines stdout|stderr N    the last command's output has exactly N lines
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("testdata", "script"),
		Setup: func(e *testscript.Env) error {
			e.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
			e.Setenv("HOME", filepath.Join(e.WorkDir, "home"))
			e.Setenv("XDG_CONFIG_HOME", filepath.Join(e.WorkDir, "home", ".config"))
			e.Setenv("XDG_STATE_HOME", filepath.Join(e.WorkDir, "home", ".state"))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"waitfile": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 {
					ts.Fatalf("usage: waitfile FILE")
				}
				deadline := time.Now().Add(30 * time.Second)
				for {
					if fi, err := os.Stat(ts.MkAbs(args[0])); err == nil && fi.Size() > 0 {
						return
					}
					if time.Now().After(deadline) {
						ts.Fatalf("%s did not appear within 30s", args[0])
					}
					time.Sleep(20 * time.Millisecond)
				}
			},
			"setenvfile": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: setenvfile NAME FILE")
				}
				ts.Setenv(args[0], strings.TrimSpace(ts.ReadFile(args[1])))
			},
			"randfile": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: randfile FILE BYTES")
				}
				n, unit := args[1], 1
				if s, ok := strings.CutSuffix(n, "k"); ok {
					n, unit = s, 1<<10
				} else if s, ok := strings.CutSuffix(n, "M"); ok {
					n, unit = s, 1<<20
				}
				v, err := strconv.Atoi(n)
				ts.Check(err)
				b := make([]byte, v*unit)
				rand.Read(b)
				ts.Check(os.WriteFile(ts.MkAbs(args[0]), b, 0o600))
			},
			"lines": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: lines stdout|stderr N")
				}
				want, err := strconv.Atoi(args[1])
				ts.Check(err)
				out := ts.ReadFile(args[0])
				got := bytes.Count([]byte(out), []byte("\n"))
				if out != "" && !strings.HasSuffix(out, "\n") {
					got++
				}
				if (got == want) == neg {
					ts.Fatalf("%s has %d line(s), want %d:\n%s", args[0], got, want, out)
				}
			},
		},
	})
}
