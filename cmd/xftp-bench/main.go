package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Roles this binary plays when it starts itself as a server process.
const (
	roleEnv = "XFTP_BENCH_ROLE" // "ceiling", "relay" or "attacker"
	dirEnv  = "XFTP_BENCH_DIR"
)

func main() {
	if role := os.Getenv(roleEnv); role != "" {
		if err := runRole(role); err != nil {
			fmt.Fprintln(os.Stderr, "xftp-bench "+role+":", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newCommand().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "xftp-bench:", err)
		os.Exit(1)
	}
}

func runRole(role string) error {
	switch role {
	case "ceiling":
		return runCeilingServer()
	case "relay":
		return runRelay()
	case "attacker":
		return runAttackerRole()
	}
	return fmt.Errorf("unknown role %q", role)
}
