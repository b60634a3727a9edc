package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/chunk"
	"github.com/xftp/xftp/client"
	"github.com/xftp/xftp/internal/buildinfo"
)

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "xftp",
		Short:         "Send and receive files through xftp relays",
		Version:       buildinfo.Version(),
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.PersistentFlags().BoolP("verbose", "v", false, "more detail: per-chunk progress when not on a terminal, and an error's full chain")
	root.AddCommand(uploadCmd(), downloadCmd(), deleteCmd(), infoCmd(), linkCmd(), checkCmd())
	addTakedownCommands(root) // restrictions.go
	return root
}

// verbose reports whether -v was given.
func verbose(cmd *cobra.Command) bool {
	f := cmd.Flags().Lookup("verbose")
	return f != nil && f.Value.String() == "true"
}

// checkParallel refuses --parallel values that mean nothing.
func checkParallel(n int) error {
	if n < 1 || n > 256 {
		return fmt.Errorf("--parallel %d: give a number of chunks in flight between 1 and 256 (default 8)", n)
	}
	return nil
}

// retryFlag is --retry-for: how long a chunk operation failing for a
// temporary reason is retried (a server failing over or restarting, a cut
// connection). An upload's server that never answered is not (client's
// retry.go: a typo fails fast).
type retryFlag struct{ d time.Duration }

func (r *retryFlag) add(fl *pflag.FlagSet) {
	fl.DurationVar(&r.d, "retry-for", 60*time.Second, "keep retrying a busy or restarting server this long (5 tries at least; 0: just those); "+
		"an upload's server that never answered fails after 3 quick tries")
}

// budget is the client's RetryFor: negative for none.
func (r retryFlag) budget() time.Duration {
	if r.d <= 0 {
		return -1
	}
	return r.d
}

// plural is "1 chunk", "2 chunks".
func plural(n int, one string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %ss", n, one)
}

func uploadCmd() *cobra.Command {
	var servers []string
	var recipients, parallel, dataShards, parityShards int
	var retryFor retryFlag
	var out string
	var quiet, asJSON, simplexFmt bool
	var web webFlags // link.go
	cmd := &cobra.Command{
		Use:   "upload FILE --server ADDR [--server ADDR ...] [--recipients N] [--data-shards K --parity-shards M]",
		Short: "Encrypt and upload a file; write its descriptions to FILE.xftp/",
		Long: `Encrypt, pad and cut FILE into chunks, spread them over the servers with
Reed-Solomon parity, and write one description per recipient (rcvN.xftp) and
the sender's (snd.xftp.private) into FILE.xftp/.

Default striping: no parity with one server, 1+1 with two, (N-1)+1 with three
to five, 4+2 with six or more. An interrupted upload continues where it
stopped when the same command runs again.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(servers) == 0 {
				if env := os.Getenv("XFTP_SERVERS"); env != "" {
					servers = strings.Fields(strings.ReplaceAll(env, ",", " "))
				}
			}
			if len(servers) == 0 {
				return errors.New("no server: pass --server xftp://... (or set XFTP_SERVERS)")
			}
			if simplexFmt { // simplex.go
				if dataShards != 0 || parityShards != 0 || web.on {
					return errSimplexUpload
				}
				if err := checkParallel(parallel); err != nil {
					return err
				}
				return runSimplexUpload(cmd, args[0], servers, recipients, out, quiet, asJSON, restricted(cmd, client.Options{Parallel: parallel, RetryFor: retryFor.budget()}))
			}
			for _, s := range servers {
				if _, err := api.ParseAddress(s); err != nil {
					return err
				}
			}
			if dataShards == 0 && parityShards > 0 {
				return errors.New("--parity-shards needs --data-shards")
			}
			if err := checkParallel(parallel); err != nil {
				return err
			}
			file := args[0]
			fi, err := os.Stat(file)
			if err != nil {
				return fail(err, "upload of %s", file)
			}
			if out == "" {
				out = file + ".xftp"
			}
			if _, err := os.Lstat(out); err == nil {
				return fmt.Errorf("%s already exists: remove it or choose another folder with --out", out)
			}
			state := filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".upload-state")
			rep := newReporter(cmd.ErrOrStderr(), quiet, asJSON, verbose(cmd))
			rep.begin("upload", fi.Size())
			res, err := client.UploadFile(cmd.Context(), client.UploadFileRequest{Path: file, Servers: servers, Recipients: recipients,
				DataShards: dataShards, ParityShards: parityShards, StateFile: state},
				rep.around(restricted(cmd, client.Options{Parallel: parallel, RetryFor: retryFor.budget(), Progress: rep.progress()})))
			rep.finish()
			if err != nil {
				return fail(err, "upload of %s", file)
			}
			paths, err := writeDescriptions(out, res)
			if err != nil {
				return err
			}
			if err := client.RemoveState(state); err != nil {
				return err
			}
			var links []string
			if web.on {
				if links, err = web.links(res.Recipients); err != nil {
					return err
				}
				web.note(cmd, res.Recipients[0])
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]any{
					"descriptions": paths, "web_links": links, "size": res.Size, "encrypted_bytes": res.Encrypted, "chunks": res.Chunks,
					"parity_chunks": res.ParityChunks, "data_shards": res.Erasure.Data, "parity_shards": res.Erasure.Parity,
					"servers": res.Servers, "resumed_chunks": res.Resumed, "started_over": res.StartedOver, "seconds": res.Elapsed.Seconds()})
			}
			chunks := plural(res.Chunks, "chunk")
			if res.ParityChunks > 0 {
				chunks += fmt.Sprintf(" + %d parity", res.ParityChunks)
				chunks += fmt.Sprintf(" (%d+%d Reed-Solomon, survives %s per stripe)", res.Erasure.Data, res.Erasure.Parity, plural(res.Erasure.Parity, "lost server"))
			}
			var notes string
			switch {
			case res.StartedOver != "":
				notes = "; started over, as " + res.StartedOver + " (what it stored expires on its own)"
			case res.Resumed > 0:
				notes = fmt.Sprintf("; resumed an interrupted upload (%s already sent)", plural(res.Resumed, "chunk"))
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "uploaded %s (%s): %s on %s; %s sent in %s (%s/s)%s\n",
				filepath.Base(file), humanize.IBytes(uint64(res.Size)), chunks, plural(res.Servers, "server"),
				humanize.IBytes(uint64(res.Encrypted)), res.Elapsed.Round(time.Millisecond), rate(res.Encrypted, res.Elapsed), notes)
			for _, p := range append(paths, links...) {
				fmt.Fprintln(cmd.OutOrStdout(), p)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&servers, "server", nil, "relay address xftp://FINGERPRINT@HOST:PORT (repeat for several; env XFTP_SERVERS)")
	fl.IntVar(&recipients, "recipients", 1, "number of recipient descriptions to make")
	fl.IntVar(&parallel, "parallel", 8, "chunks in flight at once (1-256)")
	retryFor.add(fl)
	fl.IntVar(&dataShards, "data-shards", 0, "data chunks per Reed-Solomon stripe (default: by server count)")
	fl.IntVar(&parityShards, "parity-shards", 0, "parity chunks per stripe; each stripe needs data+parity servers")
	fl.StringVar(&out, "out", "", "folder for the descriptions (default FILE.xftp)")
	fl.BoolVarP(&quiet, "quiet", "q", false, "no progress output")
	fl.BoolVar(&asJSON, "json", false, "progress as JSON lines on stderr, the result as JSON on stdout")
	fl.BoolVar(&simplexFmt, "simplex", false, "send a SimpleX file to XFTP servers (--server xftp://KEYHASH@HOST), for SimpleX Chat, its web page and CLI")
	web.add(fl)
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
	return commitDescriptions(tmp, dir, names)
}

// commitDescriptions moves the folder of descriptions written at tmp into
// place at dir (mode 0700) and returns the descriptions' paths there.
func commitDescriptions(tmp, dir string, names []string) ([]string, error) {
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
	var keep, quiet, asJSON, noResume, force bool
	var parallel int
	var retryFor retryFlag
	var pf proxyFlags // proxy.go
	cmd := &cobra.Command{
		Use:   "download DESC [-o PATH]",
		Short: "Download, verify and decrypt a file from a recipient description or link",
		Long: `Download, verify and decrypt a file. With parity, any K chunks of each
stripe suffice: missing, blocked, expired or corrupt chunks are rebuilt, and
slow servers are hedged. The output appears only when complete and verified;
an interrupted download keeps its verified part (hidden, next to the output)
and continues when the same command runs again.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkParallel(parallel); err != nil {
				return err
			}
			if output != "" && !force {
				if _, err := os.Lstat(output); err == nil {
					return fmt.Errorf("%s already exists: pass --force to overwrite it, or choose another -o", output)
				}
			}
			if sd, ok, err := simplexInput(args[0]); ok { // simplex.go
				if err != nil {
					return err
				}
				o, err := pf.apply(restricted(cmd, client.Options{Parallel: parallel, RetryFor: retryFor.budget()}))
				if err != nil {
					return err
				}
				return runSimplexDownload(cmd, sd, output, keep, noResume, quiet, asJSON, o)
			}
			d, err := readDescription(args[0])
			if err != nil {
				return err
			}
			rep := newReporter(cmd.ErrOrStderr(), quiet, asJSON, verbose(cmd))
			o, err := pf.apply(rep.around(restricted(cmd, client.Options{Parallel: parallel, RetryFor: retryFor.budget(), Progress: rep.progress()})))
			if err != nil {
				return err
			}
			total := d.Size
			if d.Party == chunk.PartyRedirect {
				total = 0 // the file's size is known after the redirect
			}
			rep.begin("download", total)
			res, err := client.DownloadFile(cmd.Context(), client.DownloadFileRequest{Description: d, Output: output, Keep: keep, Resume: !noResume,
				NoClobber: !force}, o)
			rep.finish()
			if err != nil {
				return fail(err, "download")
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]any{
					"path": res.Path, "name": res.Name, "size": res.Size, "seconds": res.Elapsed.Seconds()})
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "downloaded %q (%s): %s received in %s (%s/s)\n", res.Name, humanize.IBytes(uint64(res.Size)),
				humanize.IBytes(uint64(res.Received)), res.Elapsed.Round(time.Millisecond), rate(res.Received, res.Elapsed))
			fmt.Fprintln(cmd.OutOrStdout(), res.Path)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&output, "output", "o", "", "where to write the file (default: its own name in the current folder, never overwriting)")
	fl.BoolVar(&force, "force", false, "overwrite the -o file if it exists")
	fl.BoolVar(&keep, "keep", false, "do not acknowledge the chunks, so this description can download again")
	fl.IntVar(&parallel, "parallel", 8, "chunks in flight at once (1-256)")
	retryFor.add(fl)
	fl.BoolVarP(&quiet, "quiet", "q", false, "no progress output")
	fl.BoolVar(&asJSON, "json", false, "progress as JSON lines on stderr, the result as JSON on stdout")
	fl.BoolVar(&noResume, "no-resume", false, "do not keep or use a partial download")
	pf.add(cmd)
	return cmd
}

func deleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete snd.xftp.private",
		Short: "Delete a file's chunks from the servers (sender's description)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if sd, ok, err := simplexInput(args[0]); ok { // simplex.go
				if err != nil {
					return err
				}
				return runSimplexDelete(cmd, args[0], sd, restricted(cmd, client.Options{}))
			}
			d, err := readDescription(args[0])
			if err != nil {
				return err
			}
			o := restricted(cmd, client.Options{})
			gone, err := client.Delete(cmd.Context(), d, o)
			if err != nil {
				return fail(err, "delete")
			}
			msg := "deleted " + plural(len(d.Chunks)+len(d.Parity)-gone, "chunk")
			if gone > 0 {
				msg += fmt.Sprintf("; %d already gone (deleted or expired)", gone)
			}
			// The redirects 'xftp link' made for this upload's recipients.
			files := redirectFiles(args[0])
			chunks, rgone, err := deleteRedirects(cmd, files, o)
			if err != nil {
				return fail(err, "delete of a redirect")
			}
			if len(files) > 0 {
				msg += fmt.Sprintf(", and %s made by 'xftp link' (%s)", plural(len(files), "redirect"), plural(chunks-rgone, "chunk"))
			}
			fmt.Fprintln(cmd.ErrOrStderr(), msg)
			for _, p := range files {
				if err := os.Remove(p); err != nil {
					return err
				}
			}
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
			if sd, ok, err := simplexInput(args[0]); ok { // simplex.go
				if err != nil {
					return err
				}
				printSimplexInfo(cmd.OutOrStdout(), sd)
				return nil
			}
			d, err := readDescription(args[0])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "party:      %s\n", d.Party)
			fmt.Fprintf(w, "version:    %d\n", d.Version)
			fmt.Fprintf(w, "encrypted:  %s (%d bytes, padded; the real size is inside)\n", humanize.IBytes(uint64(d.Size)), d.Size)
			fmt.Fprintf(w, "chunks:     %d\n", len(d.Chunks))
			if d.Erasure.Parity > 0 {
				fmt.Fprintf(w, "parity:     %d chunks, %d+%d Reed-Solomon (any %d of each stripe's %d suffice)\n",
					len(d.Parity), d.Erasure.Data, d.Erasure.Parity, d.Erasure.Data, d.Erasure.Data+d.Erasure.Parity)
			}
			sizes := map[int64]int{}
			servers := map[string]int{}
			var order []string
			for _, c := range append(append([]chunk.ChunkRef{}, d.Chunks...), d.Parity...) {
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
				fmt.Fprintf(w, "  %s (%s)\n", s, plural(servers[s], "chunk"))
			}
			return nil
		},
	}
}

func linkCmd() *cobra.Command {
	var web webFlags // link.go
	var maxLen int
	var servers []string
	cmd := &cobra.Command{
		Use:   "link DESC",
		Short: "Print a description's compact link form, for pasting into a chat",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if sd, ok, err := simplexInput(args[0]); ok { // simplex.go
				if err != nil {
					return err
				}
				return printSimplexLinks(cmd, sd)
			}
			d, err := readDescription(args[0])
			if err != nil {
				return err
			}
			l, err := d.Link()
			if err == nil && len(l) > maxLen && d.Party == chunk.PartyRecipient {
				// Too long for a chat message: upload the description itself
				// and give out a link to that (XFTP's redirect).
				if len(servers) == 0 {
					servers = descriptionServers(d)
				}
				r, snd, rerr := client.RedirectWithSender(cmd.Context(), d, servers, restricted(cmd, client.Options{}))
				if rerr != nil {
					return rerr
				}
				saved, serr := saveRedirectSender(args[0], snd)
				if serr != nil {
					return serr
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "the link would be %d characters: uploaded the description as a redirect (%s deletes it)\n", len(l), saved)
				d = r
				l, err = d.Link()
			}
			if web.on {
				if l, err = web.link(d); err == nil {
					web.note(cmd, d)
				}
			}
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), l)
			return nil
		},
	}
	web.add(cmd.Flags())
	cmd.Flags().IntVar(&maxLen, "max-len", client.MaxLinkLen, "longer links are replaced by a redirect: the description is uploaded as a file")
	cmd.Flags().StringArrayVar(&servers, "server", nil, "servers for a redirect (default: the description's own)")
	return cmd
}

// descriptionServers lists a description's distinct servers, in order.
func descriptionServers(d *chunk.Description) []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range append(append([]chunk.ChunkRef{}, d.Chunks...), d.Parity...) {
		for _, r := range c.Replicas {
			if !seen[r.Server] {
				seen[r.Server] = true
				out = append(out, r.Server)
			}
		}
	}
	return out
}

func redact(server string) string {
	if a, err := api.ParseAddress(server); err == nil {
		return a.Redacted()
	}
	return "(malformed server address)"
}

// redirectPattern names the sender descriptions of redirects that 'xftp
// link' saves next to the description it was given, where 'xftp delete'
// of the upload's snd.xftp.private finds them.
const redirectPattern = "snd-redirect-*.xftp.private"

// saveRedirectSender stores a redirect's sender description next to the
// recipient description arg (or in the current folder for a link).
func saveRedirectSender(arg string, snd *chunk.Description) (string, error) {
	dir := "."
	if !strings.HasPrefix(arg, "xftp:file:") {
		dir = filepath.Dir(arg)
	}
	b, err := snd.Marshal()
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, strings.Replace(redirectPattern, "*", strings.TrimSuffix(filepath.Base(arg), ".xftp")+"-*", 1))
	if err != nil {
		return "", fmt.Errorf("saving the redirect's sender description: %w", err)
	}
	_, werr := f.Write(b)
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("saving the redirect's sender description: %w", err)
	}
	return f.Name(), nil
}

// redirectFiles lists the redirect sender descriptions next to an
// upload's snd.xftp.private.
func redirectFiles(arg string) []string {
	if filepath.Base(arg) != "snd.xftp.private" {
		return nil
	}
	m, _ := filepath.Glob(filepath.Join(filepath.Dir(arg), redirectPattern))
	return m
}

// deleteRedirects deletes the chunks of the redirects in files.
func deleteRedirects(cmd *cobra.Command, files []string, o client.Options) (chunks, gone int, err error) {
	for _, p := range files {
		d, err := readDescription(p)
		if err != nil {
			return chunks, gone, err
		}
		g, err := client.Delete(cmd.Context(), d, o)
		if err != nil {
			return chunks, gone, err
		}
		chunks += len(d.Chunks) + len(d.Parity)
		gone += g
	}
	return chunks, gone, nil
}
