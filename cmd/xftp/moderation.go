package main

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/blocklist"
	"github.com/xftp/xftp/client"
)

// parseB64 decodes an unpadded base64url argument.
func parseB64(what, s string) ([]byte, error) {
	var b api.B64
	if err := b.UnmarshalText([]byte(strings.TrimSpace(s))); err != nil || len(b) == 0 {
		return nil, fmt.Errorf("%s %q is not unpadded base64url", what, s)
	}
	return b, nil
}

func adminReportsCmd(f *adminFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "reports",
		Short: "List open abuse reports, one line per reported chunk",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			n, cursor := 0, ""
			w := cmd.OutOrStdout()
			for {
				page, err := c.ListReports(cmd.Context(), cursor, 1000)
				if err != nil {
					return err
				}
				for _, r := range page.Reports {
					n++
					var reasons []string
					for k, v := range r.Reasons {
						reasons = append(reasons, fmt.Sprintf("%s×%d", k, v))
					}
					sort.Strings(reasons)
					contacts := "no contact"
					if len(r.Contacts) > 0 {
						contacts = "contacts " + printableList(r.Contacts)
					}
					fmt.Fprintf(w, "report %s  %d report(s)  first %s  last %s  %s  %s  chunk expires %s\n", r.ID, r.Count,
						time.Unix(r.FirstAt, 0).UTC().Format(time.RFC3339), time.Unix(r.LastAt, 0).UTC().Format(time.RFC3339),
						strings.Join(reasons, ","), contacts, time.Unix(r.ExpiresAt, 0).UTC().Format(time.RFC3339))
				}
				if page.Next == "" {
					break
				}
				cursor = page.Next
			}
			fmt.Fprintln(cmd.ErrOrStderr(), plural(n, "open report"))
			return nil
		},
	}
	var reason, notice string
	var ttl time.Duration
	var restrict []string
	block := &cobra.Command{
		Use:   "block REPORT_ID --reason REASON [--notice TEXT] [--ttl 720h] [--restrict no_uploads,no_sender_files]",
		Short: "Block the reported chunk in one step (the report is then closed)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if reason == "" {
				return errors.New("--reason is required (spam, content, or your own [a-z0-9_-] name)")
			}
			id, err := parseB64("report ID", args[0])
			if err != nil {
				return err
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			res, err := c.BlockReport(cmd.Context(), id, api.AdminBlockRequest{
				Reason: reason, Notice: notice, TTLSeconds: int64(ttl / time.Second), Restrictions: restrict,
			})
			if err != nil {
				return fmt.Errorf("report %s: %w", args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "report %s: blocked, case %s (%d keys, body %s)\n", args[0], res.Case, len(res.Keys), res.Body)
			return nil
		},
	}
	fl := block.Flags()
	fl.StringVar(&reason, "reason", "", "why: spam, content, or an operator-defined [a-z0-9_-] name")
	fl.StringVar(&notice, "notice", "", "a notice for people, shown by clients")
	fl.DurationVar(&ttl, "ttl", 0, "how long clients apply the restrictions (0: no expiry)")
	fl.StringSliceVar(&restrict, "restrict", nil, "restrictions clients should apply: no_uploads, no_sender_files")
	dismiss := &cobra.Command{
		Use:   "dismiss REPORT_ID",
		Short: "Close a report without blocking (the chunk can be reported again)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseB64("report ID", args[0])
			if err != nil {
				return err
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			if err := c.DismissReport(cmd.Context(), id); err != nil {
				return fmt.Errorf("report %s: %w", args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "report %s: dismissed\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(block, dismiss)
	return cmd
}

func printableList(xs []string) string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(out, ",")
}

func adminAppealCmd(f *adminFlags) *cobra.Command {
	var unblock, force bool
	cmd := &cobra.Command{
		Use:   "appeal CASE [--unblock] [--force]",
		Short: "Grant an appeal: print an unblock proof for a block's case code",
		Long: `Issue an unblock proof for a case: a small record signed by the server
identity that lifts, on any client given it ('xftp restrictions lift PROOF'),
the restrictions learnt from this operator's records of that case, and no
others. It names no one. --unblock also lifts the block itself. The proof
is printed on stdout; hand it to whoever appealed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			code, err := parseB64("case", args[0])
			if err != nil {
				return err
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			res, err := c.Appeal(cmd.Context(), api.AdminAppealRequest{Case: code, Unblock: unblock, Force: force})
			if err != nil {
				return fmt.Errorf("case %s: %w", args[0], err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), res.Proof)
			msg := fmt.Sprintf("appeal for case %s granted by %s", res.Case, res.Server)
			if res.Unblocked != nil {
				msg += fmt.Sprintf("; block lifted (%d keys)", len(res.Unblocked.Keys))
			} else if unblock {
				msg += "; the block was not lifted (see the server log)"
			}
			fmt.Fprintln(cmd.ErrOrStderr(), msg)
			return nil
		},
	}
	cmd.Flags().BoolVar(&unblock, "unblock", false, "also lift the block itself")
	cmd.Flags().BoolVar(&force, "force", false, "issue the proof even if the case is not blocked (any more)")
	return cmd
}

func restrictionsLiftCmd(open func() (*client.Restrictions, error)) *cobra.Command {
	return &cobra.Command{
		Use:   "lift PROOF",
		Short: "Lift a restriction with an operator's unblock proof (xftp:unblock:... or a file holding it)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			text := args[0]
			if !strings.HasPrefix(text, blocklist.UnblockProofPrefix) {
				b, err := os.ReadFile(text)
				if err != nil {
					return fmt.Errorf("%s is neither an unblock proof (%s...) nor a readable file: %w", text, blocklist.UnblockProofPrefix, err)
				}
				text = string(b)
			}
			p, err := blocklist.ParseUnblockText(text)
			if err != nil {
				return fmt.Errorf("the unblock proof is not valid: %w", err)
			}
			s, err := open()
			if err != nil {
				return err
			}
			lifted, err := s.Lift(p)
			if err != nil {
				return err
			}
			for _, r := range lifted {
				fmt.Fprintf(cmd.OutOrStdout(), "lifted %v of %s (%s, blocked %s, case %s)\n", r.Restrictions, r.Server, r.Address,
					r.BlockedAt.UTC().Format(time.RFC3339), api.B64(r.AppealCode))
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "lifted %s\n", plural(len(lifted), "restriction"))
			return nil
		},
	}
}
