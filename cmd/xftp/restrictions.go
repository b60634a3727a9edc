package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/xftp/xftp/client"
	"github.com/xftp/xftp/identity"
)

const (
	ignoreRestrictionsFlag = "ignore-restrictions"
	checkEarlierFlag       = "check-earlier-uploads"
	noRememberFlag         = "no-remember"
)

// addTakedownCommands adds 'xftp restrictions' and 'xftp admin', and
// --ignore-restrictions to the commands that apply the restriction store.
func addTakedownCommands(root *cobra.Command) {
	root.AddCommand(restrictionsCmd(), adminCmd(), statusCmd(), reportCmd())
	for _, c := range root.Commands() {
		if c.Name() == "upload" || c.Name() == "download" {
			c.Flags().Bool(ignoreRestrictionsFlag, false, "proceed even where an operator asked clients to stop (see 'xftp restrictions'); prints a warning")
		}
		if c.Name() == "upload" {
			c.Flags().Bool(checkEarlierFlag, os.Getenv("XFTP_CHECK_EARLIER_UPLOADS") == "1",
				"first ask the servers whether your earlier uploads to them (from sent.json) were blocked; COST: each server asked can link those uploads to each other, to this one and to your address (env XFTP_CHECK_EARLIER_UPLOADS=1)")
			c.Flags().Bool(noRememberFlag, os.Getenv("XFTP_NO_SENT") == "1",
				"do not keep this upload's sender description in $XFTP_HOME/sent.json (by default kept 7 days, mode 0600; it can delete the file) (env XFTP_NO_SENT=1)")
		}
	}
}

// restricted adds the restriction store (and --ignore-restrictions, if
// the command has it) to o. Without a usable store it warns and goes on.
func restricted(cmd *cobra.Command, o client.Options) client.Options {
	warn := func(msg string) { fmt.Fprintln(cmd.ErrOrStderr(), "xftp: warning:", msg) }
	o.Warn = warn
	if f := cmd.Flags().Lookup(ignoreRestrictionsFlag); f != nil {
		o.IgnoreRestrictions = f.Value.String() == "true"
	}
	path, err := client.DefaultRestrictionsPath()
	if err != nil {
		warn(err.Error())
		return o
	}
	o.Restrictions = client.OpenRestrictions(path, nil)
	if f := cmd.Flags().Lookup(noRememberFlag); f != nil && f.Value.String() == "true" {
		return o
	}
	if sent, err := client.DefaultSentPath(); err == nil {
		o.Sent = client.OpenSentIndex(sent, nil)
	}
	if f := cmd.Flags().Lookup(checkEarlierFlag); f != nil {
		o.CheckEarlierUploads = f.Value.String() == "true"
	}
	return o
}

func restrictionsCmd() *cobra.Command {
	open := func() (*client.Restrictions, error) {
		path, err := client.DefaultRestrictionsPath()
		if err != nil {
			return nil, err
		}
		return client.OpenRestrictions(path, nil), nil
	}
	cmd := &cobra.Command{
		Use:   "restrictions",
		Short: "List what server operators asked this client to stop doing",
		Long: `Operators that block a chunk can ask clients to stop uploading to their
servers (no_uploads) or to refuse files relayed through them
(no_sender_files). xftp records these from verified blocking records, with
the record's expiry, in $XFTP_HOME/restrictions.json (default: the user
configuration directory, ~/.config/xftp/restrictions.json).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := open()
			if err != nil {
				return err
			}
			rs, err := s.List()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if len(rs) == 0 {
				fmt.Fprintln(w, "no restrictions")
				return nil
			}
			for _, r := range rs {
				until := "no expiry"
				if !r.ExpiresAt.IsZero() {
					until = "until " + r.ExpiresAt.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(w, "%s  %v  %s  (%s, blocked %s, reason %s)\n", r.Server, r.Restrictions, until,
					r.Address, r.BlockedAt.UTC().Format(time.RFC3339), r.Reason)
			}
			return nil
		},
	}
	cmd.AddCommand(restrictionsLiftCmd(open)) // moderation.go
	cmd.AddCommand(&cobra.Command{
		Use:   "clear [FINGERPRINT]",
		Short: "Forget the restrictions of one operator (by server fingerprint), or all",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := open()
			if err != nil {
				return err
			}
			var fp *identity.Fingerprint
			if len(args) == 1 {
				f, err := identity.ParseFingerprint(args[0])
				if err != nil {
					return err
				}
				fp = &f
			}
			n, err := s.Clear(fp)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "cleared %s\n", plural(n, "restriction"))
			return nil
		},
	})
	return cmd
}
