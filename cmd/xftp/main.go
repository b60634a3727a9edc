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
// standard error saying what failed.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRoot().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "xftp:", describeError(err))
		os.Exit(1)
	}
}
