// Command xftpd is the xftp relay server.
//
//	xftpd [--data DIR] [--listen HOST:PORT] [--host NAME] [flags]
//
// On start it prints its address, xftp://<fingerprint>@host:port, as one
// line on standard output and writes it to DIR/address. It stops cleanly on
// SIGINT or SIGTERM, finishing transfers in flight for up to --grace.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newCommand().ExecuteContext(ctx); err != nil {
		if !errors.Is(err, context.Canceled) {
			fmt.Fprintln(os.Stderr, "xftpd:", err)
		}
		os.Exit(1)
	}
}
