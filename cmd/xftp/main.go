// Command xftp sends and receives files through xftp relays.
//
//	xftp upload FILE --server ADDR [--server ADDR ...] [--recipients N]
//	xftp download DESC [-o PATH]
//	xftp delete snd.xftp.private
//	xftp status snd.xftp.private [--watch]
//	xftp report DESC --reason REASON [--contact TEXT]
//	xftp info DESC
//	xftp link DESC
//
// Exit status is 0 on success and 1 on any failure, with one line on
// standard error saying what failed, why, and what to do (-v adds the
// details). Progress goes to standard error on a terminal (a bar), with
// -v elsewhere (lines), or with --json (JSON lines).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	// Keep the client's memory near its working set (a few stripes and
	// HTTP/2 windows) rather than letting the heap double between
	// collections; GOMEMLIMIT still wins if set.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(96 << 20)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot()
	root.SetArgs(dashValues(root, os.Args[1:])) // dashargs.go
	if cmd, err := root.ExecuteContextC(ctx); err != nil {
		line := oneLine(describeError(err))
		if usageError(err) {
			line += " (see '" + cmd.CommandPath() + " --help')"
		}
		fmt.Fprintln(os.Stderr, "xftp:", line)
		if v, _ := root.PersistentFlags().GetBool("verbose"); v {
			fmt.Fprintln(os.Stderr, "details:", err)
		}
		os.Exit(1)
	}
}
