package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/chunk"
	"github.com/xftp/xftp/client"
	"github.com/xftp/xftp/identity"
)

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "xftp",
		Short:         "Send and receive files through xftp relays",
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.AddCommand(uploadCmd(), downloadCmd(), deleteCmd(), infoCmd(), linkCmd(), checkCmd())
	addTakedownCommands(root) // restrictions.go
	return root
}

// describeError turns an error into the one line a user sees.
func describeError(err error) string {
	switch {
	case errors.Is(err, context.Canceled):
		return "interrupted"
	case errors.Is(err, identity.ErrWrongIdentity):
		return "server identity check failed: " + err.Error() + " (is the address's fingerprint right?)"
	}
	return err.Error()
}

func progress(quiet bool, w io.Writer) func(client.Event) {
	if quiet {
		return nil
	}
	return func(e client.Event) {
		switch {
		case e.Retry:
			fmt.Fprintf(w, "%s chunk %d/%d: retrying after: %v\n", e.Op, e.Chunk, e.Chunks, e.Err)
		default:
			fmt.Fprintf(w, "%s chunk %d/%d done (%s of %s)\n", e.Op, e.Chunk, e.Chunks,
				humanize.IBytes(uint64(e.Done)), humanize.IBytes(uint64(e.Total)))
		}
	}
}

func uploadCmd() *cobra.Command {
	var servers []string
	var recipients, parallel int
	var out string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "upload FILE --server ADDR [--server ADDR ...] [--recipients N]",
		Short: "Encrypt and upload a file; write its descriptions to FILE.xftp/",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(servers) == 0 {
				if env := os.Getenv("XFTP_SERVERS"); env != "" {
					servers = strings.Fields(strings.ReplaceAll(env, ",", " "))
				}
			}
			if len(servers) == 0 {
				return errors.New("no server: pass --server xftp://... (or set XFTP_SERVERS)")
			}
			for _, s := range servers {
				if _, err := api.ParseAddress(s); err != nil {
					return err
				}
			}
			file := args[0]
			if out == "" {
				out = file + ".xftp"
			}
			if _, err := os.Lstat(out); err == nil {
				return fmt.Errorf("%s already exists: remove it or choose another folder with --out", out)
			}
			res, err := client.Upload(cmd.Context(), client.UploadRequest{Path: file, Servers: servers, Recipients: recipients},
				restricted(cmd, client.Options{Parallel: parallel, Progress: progress(quiet, cmd.ErrOrStderr())}))
			if err != nil {
				return fmt.Errorf("upload of %s failed: %w", file, err)
			}
			paths, err := writeDescriptions(out, res)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "uploaded %s (%s) in %d chunks to %d server(s) in %s (%s/s)\n",
				filepath.Base(file), humanize.IBytes(uint64(res.Size)), res.Chunks, len(servers),
				res.Elapsed.Round(time.Millisecond), rate(res.Encrypted, res.Elapsed))
			for _, p := range paths {
				fmt.Fprintln(cmd.OutOrStdout(), p)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&servers, "server", nil, "relay address xftp://FINGERPRINT@HOST:PORT (repeat for several; env XFTP_SERVERS)")
	fl.IntVar(&recipients, "recipients", 1, "number of recipient descriptions to make")
	fl.IntVar(&parallel, "parallel", 8, "chunks in flight at once")
	fl.StringVar(&out, "out", "", "folder for the descriptions (default FILE.xftp)")
	fl.BoolVarP(&quiet, "quiet", "q", false, "no progress lines")
	return cmd
}

func rate(n int64, d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return humanize.IBytes(uint64(float64(n) / d.Seconds()))
}

// writeDescriptions writes rcv1.xftp ... rcvN.xftp and snd.xftp.private into
// a new folder, atomically: a temporary folder is filled and renamed.
func writeDescriptions(dir string, res *client.Uploaded) ([]string, error) {
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".xftp-desc-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	var names []string
	write := func(name string, d *chunk.Description, mode os.FileMode) error {
		b, err := d.Marshal()
		if err != nil {
			return err
		}
		names = append(names, name)
		return os.WriteFile(filepath.Join(tmp, name), b, mode)
	}
	for i, d := range res.Recipients {
		if err := write(fmt.Sprintf("rcv%d.xftp", i+1), d, 0o600); err != nil {
			return nil, err
		}
	}
	if err := write("snd.xftp.private", res.Sender, 0o600); err != nil {
		return nil, err
	}
	if err := os.Chmod(tmp, 0o700); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return nil, fmt.Errorf("saving descriptions: %w (the chunks are uploaded but their descriptions are lost; they expire on their own)", err)
	}
	paths := make([]string, len(names))
	for i, n := range names {
		paths[i] = filepath.Join(dir, n)
	}
	return paths, nil
}

// readDescription reads a description from a file, or takes a link as is.
func readDescription(arg string) (*chunk.Description, error) {
	var b []byte
	if strings.HasPrefix(arg, "xftp:file:") {
		b = []byte(arg)
	} else {
		var err error
		if b, err = os.ReadFile(arg); err != nil {
			return nil, err
		}
	}
	d, err := chunk.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", arg, err)
	}
	return d, nil
}

func downloadCmd() *cobra.Command {
	var output string
	var keep, quiet bool
	var parallel int
	cmd := &cobra.Command{
		Use:   "download DESC [-o PATH]",
		Short: "Download, verify and decrypt a file from a recipient description or link",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := readDescription(args[0])
			if err != nil {
				return err
			}
			res, err := client.Download(cmd.Context(), client.DownloadRequest{Description: d, Output: output, Keep: keep},
				restricted(cmd, client.Options{Parallel: parallel, Progress: progress(quiet, cmd.ErrOrStderr())}))
			if err != nil {
				return fmt.Errorf("download failed: %w", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "downloaded %q (%s) in %s (%s/s)\n", res.Name, humanize.IBytes(uint64(res.Size)),
				res.Elapsed.Round(time.Millisecond), rate(d.Size, res.Elapsed))
			fmt.Fprintln(cmd.OutOrStdout(), res.Path)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&output, "output", "o", "", "where to write the file (default: its own name in the current folder, never overwriting)")
	fl.BoolVar(&keep, "keep", false, "do not acknowledge the chunks, so this description can download again")
	fl.IntVar(&parallel, "parallel", 8, "chunks in flight at once")
	fl.BoolVarP(&quiet, "quiet", "q", false, "no progress lines")
	return cmd
}

func deleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete snd.xftp.private",
		Short: "Delete a file's chunks from the servers (sender's description)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := readDescription(args[0])
			if err != nil {
				return err
			}
			gone, err := client.Delete(cmd.Context(), d, restricted(cmd, client.Options{}))
			if err != nil {
				return fmt.Errorf("delete failed: %w", err)
			}
			msg := fmt.Sprintf("deleted %d chunk(s)", len(d.Chunks)-gone)
			if gone > 0 {
				msg += fmt.Sprintf("; %d were already gone (deleted or expired)", gone)
			}
			fmt.Fprintln(cmd.ErrOrStderr(), msg)
			return nil
		},
	}
}

func infoCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "info DESC",
		Short: "Show what a description holds (no keys or IDs)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := readDescription(args[0])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "party:      %s\n", d.Party)
			fmt.Fprintf(w, "version:    %d\n", d.Version)
			fmt.Fprintf(w, "encrypted:  %s (%d bytes, padded; the real size is inside)\n", humanize.IBytes(uint64(d.Size)), d.Size)
			fmt.Fprintf(w, "chunks:     %d\n", len(d.Chunks))
			sizes := map[int64]int{}
			servers := map[string]int{}
			var order []string
			for _, c := range d.Chunks {
				sizes[c.Size]++
				for _, r := range c.Replicas {
					s := redact(r.Server)
					if servers[s] == 0 {
						order = append(order, s)
					}
					servers[s]++
				}
			}
			for _, s := range chunk.DefaultSizes() {
				if n := sizes[s]; n > 0 {
					fmt.Fprintf(w, "  %d x %s\n", n, humanize.IBytes(uint64(s)))
					delete(sizes, s)
				}
			}
			for s, n := range sizes {
				fmt.Fprintf(w, "  %d x %s\n", n, humanize.IBytes(uint64(s)))
			}
			fmt.Fprintf(w, "servers:    %d\n", len(order))
			for _, s := range order {
				fmt.Fprintf(w, "  %s (%d chunk(s))\n", s, servers[s])
			}
			return nil
		},
	}
}

func linkCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "link DESC",
		Short: "Print a description's compact link form, for pasting into a chat",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := readDescription(args[0])
			if err != nil {
				return err
			}
			l, err := d.Link()
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), l)
			return nil
		},
	}
}

func redact(server string) string {
	if a, err := api.ParseAddress(server); err == nil {
		return a.Redacted()
	}
	return "(malformed server address)"
}
