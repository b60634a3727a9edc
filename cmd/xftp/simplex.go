package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/xftp/xftp/api/httpclient"
	"github.com/xftp/xftp/api/xftp"
	"github.com/xftp/xftp/chunk"
	"github.com/xftp/xftp/chunk/simplex"
	"github.com/xftp/xftp/client"
)

// SimpleX files: download, delete, info and admin block take SimpleX
// descriptions and links as well as ours (simplexInput tells them apart);
// upload --simplex sends a file as SimpleX's clients do (docs/XFTP.md).

// simplexInput reads arg as a SimpleX description (a file) or link. ok is
// false when arg is not SimpleX's: the caller then reads it as ours.
func simplexInput(arg string) (d *simplex.Description, ok bool, err error) {
	switch {
	case strings.HasPrefix(arg, "simplex:"):
		d, err = simplex.ParseLink(arg)
		return d, true, err
	case strings.HasPrefix(arg, "https://"), strings.HasPrefix(arg, "http://"):
		if _, frag, found := strings.Cut(arg, "#"); found && !strings.HasPrefix(frag, chunk.LinkPrefix) {
			d, err = simplex.ParseLink(arg)
			return d, true, err
		}
		return nil, false, nil
	case strings.HasPrefix(arg, "xftp:"):
		return nil, false, nil
	}
	fi, err := os.Stat(arg)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > simplex.MaxDescriptionSize {
		return nil, false, nil // ours, or an error the caller reports
	}
	b, err := os.ReadFile(arg)
	if err != nil || !looksSimplex(b) {
		return nil, false, nil
	}
	d, err = simplex.Parse(b)
	if err != nil {
		return nil, true, fmt.Errorf("%s: %w", arg, err)
	}
	return d, true, nil
}

// looksSimplex tells SimpleX's YAML from ours, which starts with
// xftp_description.
func looksSimplex(b []byte) bool {
	return !bytes.Contains(b, []byte("xftp_description")) &&
		bytes.Contains(b, []byte("party:")) && bytes.Contains(b, []byte("replicas:"))
}

func runSimplexDownload(cmd *cobra.Command, d *simplex.Description, output string, keep, noResume, quiet, asJSON bool, o client.Options) error {
	rep := newReporter(cmd.ErrOrStderr(), quiet, asJSON, verbose(cmd))
	o.Progress = rep.progress()
	o = rep.around(o)
	rep.begin("download", d.Size)
	res, err := client.DownloadSimplexFile(cmd.Context(), client.SimplexDownloadFileRequest{Description: d, Output: output, Keep: keep, Resume: !noResume}, o)
	rep.finish()
	if err != nil {
		return fail(err, "download")
	}
	if asJSON {
		return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]any{
			"path": res.Path, "name": res.Name, "size": res.Size, "seconds": res.Elapsed.Seconds(), "format": "simplex"})
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "downloaded %q (%s, SimpleX file) in %s (%s/s)\n", res.Name, humanize.IBytes(uint64(res.Size)),
		res.Elapsed.Round(time.Millisecond), rate(res.Size, res.Elapsed))
	fmt.Fprintln(cmd.OutOrStdout(), res.Path)
	return nil
}

func runSimplexUpload(cmd *cobra.Command, file string, servers []string, recipients int, out string, quiet, asJSON bool, o client.Options) error {
	if out == "" {
		out = file + ".xftp"
	}
	if _, err := os.Lstat(out); err == nil {
		return fmt.Errorf("%s already exists: remove it or choose another folder with --out", out)
	}
	fi, err := os.Stat(file)
	if err != nil {
		return fail(err, "upload of %s", file)
	}
	rep := newReporter(cmd.ErrOrStderr(), quiet, asJSON, verbose(cmd))
	o.Progress = rep.progress()
	o = rep.around(o)
	rep.begin("upload", fi.Size())
	res, err := client.UploadSimplexFile(cmd.Context(), client.SimplexUploadFileRequest{Path: file, Servers: servers, Recipients: recipients}, o)
	rep.finish()
	if err != nil {
		return fail(err, "upload of %s", file)
	}
	paths, err := writeSimplexDescriptions(out, res)
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]any{
			"descriptions": paths, "web_links": res.Links, "size": res.Size, "encrypted_bytes": res.Encrypted,
			"chunks": res.Chunks, "servers": res.Servers, "seconds": res.Elapsed.Seconds(), "format": "simplex"})
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "uploaded %s (%s) as a SimpleX file: %s on %s; %s sent in %s (%s/s)\n",
		filepath.Base(file), humanize.IBytes(uint64(res.Size)), plural(res.Chunks, "chunk"), plural(res.Servers, "server"),
		humanize.IBytes(uint64(res.Encrypted)), res.Elapsed.Round(time.Millisecond), rate(res.Encrypted, res.Elapsed))
	for _, p := range append(paths, res.Links...) {
		fmt.Fprintln(cmd.OutOrStdout(), p)
	}
	return nil
}

// writeSimplexDescriptions writes rcv1.xftp … rcvN.xftp and
// snd.xftp.private as SimpleX's CLI names them, plus
// snd-redirect-N.xftp.private for each recipient whose link is a redirect
// (xftp delete removes those with the file), into a new folder, atomically.
func writeSimplexDescriptions(dir string, res *client.SimplexUploaded) ([]string, error) {
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".xftp-desc-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	var names []string
	write := func(name string, d *simplex.Description) error {
		b, err := d.Marshal()
		if err != nil {
			return err
		}
		names = append(names, name)
		return os.WriteFile(filepath.Join(tmp, name), b, 0o600)
	}
	for i, d := range res.Recipients {
		if err := write(fmt.Sprintf("rcv%d.xftp", i+1), d); err != nil {
			return nil, err
		}
	}
	if err := write("snd.xftp.private", res.Sender); err != nil {
		return nil, err
	}
	for i, d := range res.RedirectSenders {
		if d != nil {
			if err := write(fmt.Sprintf("snd-redirect-%d.xftp.private", i+1), d); err != nil {
				return nil, err
			}
		}
	}
	return commitDescriptions(tmp, dir, names)
}

// runSimplexDelete deletes the file of a SimpleX sender description and,
// when it is an upload folder's snd.xftp.private, its redirects' files.
func runSimplexDelete(cmd *cobra.Command, path string, d *simplex.Description, o client.Options) error {
	gone, err := client.DeleteSimplex(cmd.Context(), d, o)
	if err != nil {
		return fail(err, "delete")
	}
	msg := "deleted " + plural(len(d.Chunks)-gone, "chunk")
	if gone > 0 {
		msg += fmt.Sprintf("; %d already gone (deleted or expired)", gone)
	}
	fmt.Fprintln(cmd.ErrOrStderr(), msg)
	if filepath.Base(path) != "snd.xftp.private" {
		return nil
	}
	redirects, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "snd-redirect-*.xftp.private"))
	for _, r := range redirects {
		rd, ok, err := simplexInput(r)
		if !ok || err != nil || rd.Party != simplex.Sender {
			return fmt.Errorf("%s: not a SimpleX sender description (%v)", r, err)
		}
		if _, err := client.DeleteSimplex(cmd.Context(), rd, o); err != nil {
			return fmt.Errorf("deleting the redirect %s: %w", filepath.Base(r), err)
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "deleted the redirect's file (%s)\n", filepath.Base(r))
	}
	return nil
}

// printSimplexInfo shows what a SimpleX description holds, without keys,
// IDs, digests or the servers' key hashes.
func printSimplexInfo(w io.Writer, d *simplex.Description) {
	fmt.Fprintf(w, "format:     SimpleX file description\n")
	fmt.Fprintf(w, "party:      %s\n", d.Party)
	fmt.Fprintf(w, "encrypted:  %s (%d bytes, padded; the real size is inside)\n", humanize.IBytes(uint64(d.Size)), d.Size)
	if d.Redirect != nil {
		fmt.Fprintf(w, "redirect:   yes: this file holds the description of a %s file\n", humanize.IBytes(uint64(d.Redirect.Size)))
	}
	fmt.Fprintf(w, "chunks:     %d\n", len(d.Chunks))
	sizes := map[int64]int{}
	servers := map[string]int{}
	var order []string
	for _, c := range d.Chunks {
		sizes[c.Size]++
		for _, r := range c.Replicas {
			s := "xftp://" + r.Server.HostPort()
			if servers[s] == 0 {
				order = append(order, s)
			}
			servers[s]++
		}
	}
	for i := len(simplex.ChunkSizes) - 1; i >= 0; i-- {
		if n := sizes[simplex.ChunkSizes[i]]; n > 0 {
			fmt.Fprintf(w, "  %d x %s\n", n, humanize.IBytes(uint64(simplex.ChunkSizes[i])))
		}
	}
	fmt.Fprintf(w, "servers:    %d\n", len(order))
	for _, s := range order {
		fmt.Fprintf(w, "  %s (%d chunk(s))\n", s, servers[s])
	}
}

// printSimplexLinks prints a SimpleX recipient description's web link and
// app link (simplex:/file#/?desc=…).
func printSimplexLinks(cmd *cobra.Command, d *simplex.Description) error {
	if d.Party != simplex.Recipient {
		return errors.New("links carry recipient descriptions (rcvN.xftp), not the sender's")
	}
	web, err := d.WebLink("")
	if err != nil {
		return err
	}
	uri, err := d.URI()
	if err != nil {
		return err
	}
	if len(web) > simplex.RedirectThreshold+64 && len(d.Chunks) > 1 {
		fmt.Fprintf(cmd.ErrOrStderr(), "xftp: warning: the link is %d characters; 'xftp upload --simplex' makes a short redirect link instead\n", len(web))
	}
	fmt.Fprintln(cmd.OutOrStdout(), web)
	fmt.Fprintln(cmd.OutOrStdout(), uri)
	return nil
}

// errSimplexUpload is for flags that do not apply to SimpleX uploads.
var errSimplexUpload = errors.New("--simplex uploads as SimpleX's clients do: no parity (--data-shards, --parity-shards) and no --web link of ours (the SimpleX web link is printed)")

// simplexTargets returns the replicas of a SimpleX description on this
// operator's servers: those whose key hash is the relay's XFTP key hash
// (from DATA/xftp-address) or a --server address's. A redirect is
// followed (its file is fetched without acknowledging it), so that the
// file it leads to is blocked with it.
func (f *adminFlags) simplexTargets(ctx context.Context, d *simplex.Description) (*httpclient.AdminClient, []replica, int, error) {
	c, err := f.client()
	if err != nil {
		return nil, nil, 0, err
	}
	own := map[[32]byte]bool{}
	if b, err := os.ReadFile(filepath.Join(f.data, "xftp-address")); err == nil {
		if a, err := xftp.ParseAddress(strings.TrimSpace(string(b))); err == nil {
			own[a.KeyHash] = true
		}
	}
	for _, s := range f.servers {
		if a, err := xftp.ParseAddress(s); err == nil {
			own[a.KeyHash] = true
		}
	}
	if len(own) == 0 {
		return nil, nil, 0, fmt.Errorf("this relay's XFTP key hash is unknown: no %s/xftp-address; pass --server with the relay's xftp:// XFTP address", f.data)
	}
	descs := []*simplex.Description{d}
	if d.Redirect != nil {
		inner, err := client.ResolveSimplexRedirect(ctx, d, client.Options{})
		if err != nil {
			fmt.Fprintf(os.Stderr, "xftp: warning: the link is a redirect and its description could not be fetched (%v): only the redirect's own chunks are blocked\n", err)
		} else {
			descs = append(descs, inner)
		}
	}
	var out []replica
	others := 0
	for _, dd := range descs {
		for _, ch := range dd.Chunks {
			for _, r := range ch.Replicas {
				if own[r.Server.KeyHash] {
					out = append(out, replica{chunk: ch.No, server: "xftp://" + r.Server.HostPort(), id: r.ID})
				} else {
					others++
				}
			}
		}
	}
	if len(out) == 0 {
		return nil, nil, others, fmt.Errorf("none of the description's %d chunk replica(s) is on this operator's XFTP servers", others)
	}
	return c, out, others, nil
}
