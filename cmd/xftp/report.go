package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/xftp/xftp/client"
)

func reportCmd() *cobra.Command {
	var reason, contact string
	var pf proxyFlags // proxy.go: reports go through the proxies, as downloads do
	cmd := &cobra.Command{
		Use:   "report DESC --reason REASON [--contact TEXT]",
		Short: "Report a file to the operators of its servers (recipient's description or link)",
		Long: `Send an abuse report about every chunk of a file to the server that stores
it. The report is signed with the description's recipient keys, which proves
you received the file; there is no account, and servers keep nothing about
you but the contact, if you give one. Servers merge reports of the same
chunk and limit how often one source may report.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if reason == "" {
				return errors.New("--reason is required (spam, content, or another [a-z0-9_-] name)")
			}
			d, err := readDescription(args[0])
			if err != nil {
				return err
			}
			o, err := pf.apply(restricted(cmd, client.Options{}))
			if err != nil {
				return err
			}
			res, err := client.Report(cmd.Context(), d, reason, contact, o)
			if err != nil {
				return fmt.Errorf("report failed: %w", err)
			}
			servers := map[string]bool{}
			ok := 0
			for _, r := range res {
				line := fmt.Sprintf("chunk %d on %s: ", r.Chunk, r.Server)
				var be *client.BlockedError
				switch {
				case r.Err == nil:
					ok++
					servers[r.Server] = true
					line += "reported"
				case errors.As(r.Err, &be):
					line += "already blocked: " + be.Error()
				case client.IsGone(r.Err):
					line += "gone (expired, deleted or acknowledged)"
				default:
					line += "not reported: " + describeError(r.Err)
				}
				fmt.Fprintln(cmd.OutOrStdout(), line)
			}
			if ok == 0 {
				return fmt.Errorf("no server took the report (%d chunk replica(s) tried)", len(res))
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "reported %d of %s to %s\n", ok, plural(len(res), "chunk replica"), plural(len(servers), "server"))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&reason, "reason", "", "why: spam, content, or another [a-z0-9_-] name")
	fl.StringVar(&contact, "contact", "", "optional: how the moderator can reach you (stored only if given)")
	pf.add(cmd)
	return cmd
}
