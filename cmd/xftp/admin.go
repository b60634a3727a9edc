package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/api/httpclient"
	"github.com/xftp/xftp/chunk"
)

// adminFlags are shared by the admin subcommands.
type adminFlags struct {
	url, tokenFile, data string
	servers              []string
}

func (f *adminFlags) client() (*httpclient.AdminClient, error) {
	if f.url == "" {
		b, err := os.ReadFile(filepath.Join(f.data, "admin.address"))
		if err != nil {
			return nil, fmt.Errorf("no admin API address in %s/admin.address (is xftpd running with --data %s?): pass --data DIR or --admin URL", f.data, f.data)
		}
		f.url = strings.TrimSpace(string(b))
	}
	if f.tokenFile == "" {
		f.tokenFile = filepath.Join(f.data, "admin.token")
	}
	b, err := os.ReadFile(f.tokenFile)
	if err != nil {
		return nil, fmt.Errorf("admin token: %w", err)
	}
	return httpclient.NewAdminClient(f.url, strings.TrimSpace(string(b))), nil
}

// replica is one chunk replica of a description on this operator's servers.
type replica struct {
	chunk  int
	server string
	id     []byte
}

// operatorReplicas returns the replicas of d on the servers the admin API
// speaks for: those with its identity's fingerprint, or with the
// fingerprint of a --server address.
func (f *adminFlags) operatorReplicas(ctx context.Context, c *httpclient.AdminClient, d *chunk.Description) ([]replica, int, error) {
	ident, err := c.Identity(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("admin API at %s: %w", f.url, err)
	}
	own := map[string]bool{ident.Fingerprint: true}
	for _, s := range f.servers {
		a, err := api.ParseAddress(s)
		if err != nil {
			return nil, 0, err
		}
		own[a.Fingerprint.String()] = true
	}
	var out []replica
	others := 0
	// Parity chunks too: with them a client could rebuild a blocked file.
	// They are numbered after the data chunks.
	all := append(append([]chunk.ChunkRef{}, d.Chunks...), d.Parity...)
	for i, ch := range all {
		for _, r := range ch.Replicas {
			a, err := api.ParseAddress(r.Server)
			if err == nil && own[a.Fingerprint.String()] {
				out = append(out, replica{chunk: i + 1, server: a.Redacted(), id: r.ID})
			} else {
				others++
			}
		}
	}
	if len(out) == 0 {
		return nil, others, fmt.Errorf("none of the description's %d chunk replica(s) is on this operator's servers (fingerprint %s)", others, ident.Fingerprint)
	}
	return out, others, nil
}

func adminCmd() *cobra.Command {
	f := &adminFlags{}
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Operator takedowns through a server's admin API (see docs/TAKEDOWNS.md)",
	}
	pf := cmd.PersistentFlags()
	defData := os.Getenv("XFTPD_DATA")
	if defData == "" {
		defData = "xftpd-data"
	}
	pf.StringVar(&f.data, "data", defData, "xftpd's data directory: the admin API's address and token are read from DATA/admin.address and DATA/admin.token (env XFTPD_DATA)")
	pf.StringVar(&f.url, "admin", os.Getenv("XFTP_ADMIN"), "admin API URL instead of the one in DATA/admin.address (env XFTP_ADMIN)")
	pf.StringVar(&f.tokenFile, "token-file", os.Getenv("XFTP_ADMIN_TOKEN_FILE"), "file holding the admin token (default DATA/admin.token; env XFTP_ADMIN_TOKEN_FILE)")
	pf.StringArrayVar(&f.servers, "server", nil, "also treat chunks on this address's server identity as this operator's (repeat)")
	cmd.AddCommand(adminBlockCmd(f), adminUnblockCmd(f), adminListCmd(f),
		adminReportsCmd(f), adminAppealCmd(f)) // moderation.go
	return cmd
}

func adminBlockCmd(f *adminFlags) *cobra.Command {
	var reason, notice string
	var ttl time.Duration
	var restrict []string
	cmd := &cobra.Command{
		Use:   "block DESC --reason REASON [--notice TEXT] [--ttl 720h] [--restrict no_uploads,no_sender_files]",
		Short: "Block every chunk of a description (sender's or recipient's) that is on this operator's servers",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if reason == "" {
				return errors.New("--reason is required (spam, content, or your own [a-z0-9_-] name)")
			}
			ctx := cmd.Context()
			c, reps, others, err := f.targets(ctx, args[0])
			if err != nil {
				return err
			}
			var blocked, already, unknown int
			for _, r := range reps {
				res, err := c.Block(ctx, api.AdminBlockRequest{
					ID: r.id, Reason: reason, Notice: notice, TTLSeconds: int64(ttl / time.Second), Restrictions: restrict,
				})
				switch {
				case errors.Is(err, api.ErrAlreadyBlocked):
					already++
					fmt.Fprintf(cmd.OutOrStdout(), "chunk %d on %s: already blocked\n", r.chunk, r.server)
				case errors.Is(err, api.ErrNotFound):
					unknown++
					fmt.Fprintf(cmd.OutOrStdout(), "chunk %d on %s: no such chunk (expired, deleted or acknowledged)\n", r.chunk, r.server)
				case err != nil:
					return fmt.Errorf("chunk %d on %s: %w", r.chunk, r.server, err)
				default:
					blocked++
					fmt.Fprintf(cmd.OutOrStdout(), "chunk %d on %s: blocked, case %s (%d keys, body %s)\n", r.chunk, r.server, res.Case, len(res.Keys), res.Body)
				}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "blocked %s; %d already blocked, %d not found; %s on other operators' servers left alone\n",
				plural(blocked, "chunk replica"), already, unknown, plural(others, "replica"))
			if blocked+already == 0 {
				return errors.New("nothing was blocked")
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&reason, "reason", "", "why: spam, content, or an operator-defined [a-z0-9_-] name")
	fl.StringVar(&notice, "notice", "", "a notice for people, shown by clients (UTF-8, at most 1024 bytes)")
	fl.DurationVar(&ttl, "ttl", 0, "how long clients apply the restrictions (0: no expiry), e.g. 720h")
	fl.StringSliceVar(&restrict, "restrict", nil, "restrictions clients should apply: no_uploads, no_sender_files (comma-separated)")
	return cmd
}

func adminUnblockCmd(f *adminFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "unblock DESC",
		Short: "Unblock every chunk of a description that is blocked on this operator's servers",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, reps, _, err := f.targets(ctx, args[0])
			if err != nil {
				return err
			}
			var done, not int
			for _, r := range reps {
				res, err := c.Unblock(ctx, r.id)
				switch {
				case errors.Is(err, api.ErrNotBlocked):
					not++
					fmt.Fprintf(cmd.OutOrStdout(), "chunk %d on %s: not blocked\n", r.chunk, r.server)
				case err != nil:
					return fmt.Errorf("chunk %d on %s: %w", r.chunk, r.server, err)
				default:
					done++
					fmt.Fprintf(cmd.OutOrStdout(), "chunk %d on %s: unblocked case %s (%d keys)\n", r.chunk, r.server, res.Case, len(res.Keys))
				}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "unblocked %s; %d not blocked\n", plural(done, "chunk replica"), not)
			return nil
		},
	}
}

func adminListCmd(f *adminFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List blocks, one line per case",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			type caseLine struct {
				e    api.AdminEntry
				keys int
			}
			var order []string
			cases := map[string]*caseLine{}
			cursor := ""
			for {
				page, err := c.List(cmd.Context(), cursor, 1000)
				if err != nil {
					return err
				}
				for _, e := range page.Entries {
					k := e.Case.String()
					if cases[k] == nil {
						cases[k] = &caseLine{e: e}
						order = append(order, k)
					}
					cases[k].keys++
				}
				if page.Next == "" {
					break
				}
				cursor = page.Next
			}
			w := cmd.OutOrStdout()
			for _, k := range order {
				cl := cases[k]
				ttl := "no expiry"
				if cl.e.TTLSeconds > 0 {
					ttl = "ttl " + (time.Duration(cl.e.TTLSeconds) * time.Second).String()
				}
				fmt.Fprintf(w, "case %s  %s  reason %s  restrictions %v  %s  %s\n", k,
					time.Unix(cl.e.BlockedAt, 0).UTC().Format(time.RFC3339), cl.e.Reason, cl.e.Restrictions, ttl, plural(cl.keys, "key"))
			}
			fmt.Fprintln(cmd.ErrOrStderr(), plural(len(order), "case"))
			return nil
		},
	}
}

// targets reads a description and returns the admin client and the
// description's replicas on this operator's servers.
func (f *adminFlags) targets(ctx context.Context, desc string) (*httpclient.AdminClient, []replica, int, error) {
	if sd, ok, err := simplexInput(desc); ok { // simplex.go
		if err != nil {
			return nil, nil, 0, err
		}
		return f.simplexTargets(ctx, sd)
	}
	d, err := readDescription(desc)
	if err != nil {
		return nil, nil, 0, err
	}
	c, err := f.client()
	if err != nil {
		return nil, nil, 0, err
	}
	reps, others, err := f.operatorReplicas(ctx, c, d)
	return c, reps, others, err
}
