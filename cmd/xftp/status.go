package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/xftp/xftp/client"
)

func statusCmd() *cobra.Command {
	var watch, asJSON bool
	var interval time.Duration
	var maxChecks int
	cmd := &cobra.Command{
		Use:   "status snd.xftp.private [--watch [--interval 5m] [--max-checks N]]",
		Short: "Show each chunk's state and delivery receipts (sender's description)",
		Long: `Ask the servers, as the file's sender, about each chunk replica: uploaded,
not uploaded, expired or deleted (servers answer both alike), or blocked by
the operator; and how many recipients downloaded and acknowledged it. The
counts never say which recipient, and padding IDs are not counted.

A blocked chunk's record is verified against the server's fingerprint and the
operator's restrictions are applied, as during uploads and downloads.

--watch checks again every --interval (with ±20% jitter) until every chunk is
gone or blocked, the chunks expire, or --max-checks checks were made.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := readDescription(args[0])
			if err != nil {
				return err
			}
			o := restricted(cmd, client.Options{})
			show := func(st *client.FileStatus) {
				if asJSON {
					writeStatusJSON(cmd.OutOrStdout(), st)
					return
				}
				writeStatus(cmd.OutOrStdout(), cmd.ErrOrStderr(), st)
			}
			if !watch {
				st, err := client.Status(cmd.Context(), d, o)
				if err != nil {
					return fmt.Errorf("status failed: %w", err)
				}
				show(st)
				return nil
			}
			_, err = client.Watch(cmd.Context(), d, o, client.WatchOptions{Interval: interval, MaxChecks: maxChecks}, show)
			if err != nil {
				return fmt.Errorf("status failed: %w", err)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&watch, "watch", false, "check again periodically until every chunk is gone or blocked, or they expire")
	fl.DurationVar(&interval, "interval", 5*time.Minute, "time between checks with --watch (±20% jitter)")
	fl.IntVar(&maxChecks, "max-checks", 0, "stop --watch after this many checks (0: until done or expired)")
	fl.BoolVar(&asJSON, "json", false, "one JSON object per check on stdout")
	return cmd
}

func replicaName(r client.ReplicaStatus) string {
	if r.Parity {
		return fmt.Sprintf("parity chunk %d", r.Chunk)
	}
	return fmt.Sprintf("chunk %d", r.Chunk)
}

func writeStatus(out, errw io.Writer, st *client.FileStatus) {
	for _, r := range st.Replicas {
		line := fmt.Sprintf("%s on %s: ", replicaName(r), r.Server)
		switch r.State {
		case client.StateUploaded, client.StateNotUploaded:
			what := "uploaded"
			if r.State == client.StateNotUploaded {
				what = "not uploaded"
			}
			line += fmt.Sprintf("%s; downloaded by %d recipient(s), acknowledged by %d; expires %s", what, r.Downloaded, r.Acked,
				r.ExpiresAt.UTC().Format(time.RFC3339))
		case client.StateGone:
			line += "expired or deleted"
		case client.StateBlocked:
			line += "blocked: " + r.Blocked.Error()
		default:
			line += "unknown: " + describeError(r.Err)
		}
		fmt.Fprintln(out, line)
	}
	fmt.Fprintf(errw, "%s: %s: %d uploaded, %d not uploaded, %d expired or deleted, %d blocked, %d unknown\n",
		st.At.UTC().Format(time.RFC3339), plural(len(st.Replicas), "replica"), st.Count(client.StateUploaded), st.Count(client.StateNotUploaded),
		st.Count(client.StateGone), st.Count(client.StateBlocked), st.Count(client.StateUnknown))
}

func writeStatusJSON(w io.Writer, st *client.FileStatus) {
	type replica struct {
		Chunk        int    `json:"chunk"`
		Parity       bool   `json:"parity,omitempty"`
		Server       string `json:"server"`
		State        string `json:"state"`
		Downloaded   int    `json:"downloaded"`
		Acked        int    `json:"acked"`
		RecipientIDs int    `json:"recipient_ids"`
		ExpiresAt    int64  `json:"expires_at,omitempty"`
		Blocked      string `json:"blocked,omitempty"`
		Error        string `json:"error,omitempty"`
	}
	out := struct {
		At       int64     `json:"at"`
		Replicas []replica `json:"replicas"`
	}{At: st.At.Unix(), Replicas: []replica{}}
	for _, r := range st.Replicas {
		x := replica{Chunk: r.Chunk, Parity: r.Parity, Server: r.Server, State: string(r.State),
			Downloaded: r.Downloaded, Acked: r.Acked, RecipientIDs: r.RecipientIDs}
		if !r.ExpiresAt.IsZero() {
			x.ExpiresAt = r.ExpiresAt.Unix()
		}
		if r.Blocked != nil {
			x.Blocked = r.Blocked.Error()
		}
		if r.Err != nil {
			x.Error = describeError(r.Err)
		}
		out.Replicas = append(out.Replicas, x)
	}
	json.NewEncoder(w).Encode(out)
}
