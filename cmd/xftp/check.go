package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/xftp/xftp/api/httpclient"
	"github.com/xftp/xftp/client"
)

func checkCmd() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "check ADDR",
		Short: "Self-test a server end to end: connect, verify identity, create, upload, download, compare, delete",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			steps := client.Check(ctx, args[0], httpclient.ClientOptions{})
			w := cmd.OutOrStdout()
			for _, s := range steps {
				if s.Err == nil {
					fmt.Fprintf(w, "ok    %s\n", s.Name)
					continue
				}
				fmt.Fprintf(w, "FAIL  %s: %s\n      likely cause: %s\n", s.Name, describeError(s.Err), s.Hint)
				return errors.New("server check failed at step " + s.Name + " (see the likely cause above)")
			}
			fmt.Fprintln(w, "server works")
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", time.Minute, "give up after this long")
	return cmd
}
