package main

import (
	"fmt"
	"net"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/chunk"
)

// webFlags are --web and --web-host: print browser links,
// https://HOST/d/#<link>, for the download page that xftpd serves (see
// docs/WEB.md). The part after '#' is the description's link form; browsers
// never send it to a server.
type webFlags struct {
	on   bool
	host string
}

func (w *webFlags) add(fl *pflag.FlagSet) {
	fl.BoolVar(&w.on, "web", false, "print a browser link https://HOST/d/#... for the download page (docs/WEB.md)")
	fl.StringVar(&w.host, "web-host", "", "the relay's web host for --web, HOST[:PORT] (env XFTP_WEB_HOST; default: the host of the first server in the description)")
}

// note tells the user, on stderr, whom a browser link trusts: the relay
// at HOST serves the page's code, which reads the link and its file key.
func (w *webFlags) note(cmd *cobra.Command, d *chunk.Description) {
	host, err := w.hostFor(d)
	if err != nil {
		return
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "xftp: note: the browser link trusts %s: it serves the page that reads the link (file key included); choose that relay with --web-host (docs/WEB.md)\n", host)
}

// hostFor is the page's host for d: --web-host, XFTP_WEB_HOST, or the
// host of d's first server.
func (w *webFlags) hostFor(d *chunk.Description) (string, error) {
	host := w.host
	if host == "" {
		host = os.Getenv("XFTP_WEB_HOST")
	}
	if host == "" {
		a, err := api.ParseAddress(d.Chunks[0].Replicas[0].Server)
		if err != nil {
			return "", err
		}
		host = a.Host
	}
	return host, nil
}

// link returns the browser link for recipient description d.
func (w *webFlags) link(d *chunk.Description) (string, error) {
	if d.Party != chunk.PartyRecipient {
		return "", fmt.Errorf("--web needs a recipient description (rcvN.xftp), not a %s one: the page only receives files", d.Party)
	}
	host, err := w.hostFor(d)
	if err != nil {
		return "", err
	}
	return webLink(d, host)
}

// webLink is https://HOST/d/#<d.Link()>, without the port when it is 443.
func webLink(d *chunk.Description, host string) (string, error) {
	if h, p, err := net.SplitHostPort(host); err == nil && p == "443" {
		host = h
		if net.ParseIP(h) != nil && net.ParseIP(h).To4() == nil {
			host = "[" + h + "]"
		}
	}
	l, err := d.Link()
	if err != nil {
		return "", err
	}
	return "https://" + host + "/d/#" + l, nil
}

// links returns one browser link per recipient description.
func (w *webFlags) links(ds []*chunk.Description) ([]string, error) {
	var links []string
	for _, d := range ds {
		l, err := w.link(d)
		if err != nil {
			return nil, err
		}
		links = append(links, l)
	}
	return links, nil
}
