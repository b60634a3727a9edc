package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/xftp/xftp/chunk"
)

// MaxLinkLen is the longest link the CLI prints as it is; a description
// whose link is longer is uploaded as a file and replaced by a redirect.
const MaxLinkLen = 2048

// maxRedirectTarget caps the description a redirect may point to.
const maxRedirectTarget = 16 << 20

// Redirect uploads a recipient description as a file to servers and returns
// a small description of that file (party "redirect"): XFTP's answer to
// descriptions too large for a chat message. Downloading the redirect
// fetches the description, then the file it describes.
func Redirect(ctx context.Context, d *chunk.Description, servers []string, o Options) (*chunk.Description, error) {
	r, _, err := RedirectWithSender(ctx, d, servers, o)
	return r, err
}

// RedirectWithSender is Redirect that also returns the sender's
// description of the uploaded description, which deletes it (Delete).
func RedirectWithSender(ctx context.Context, d *chunk.Description, servers []string, o Options) (redirect, sender *chunk.Description, err error) {
	if d.Party != chunk.PartyRecipient {
		return nil, nil, errors.New("only a recipient's description can be sent as a redirect")
	}
	b, err := d.Marshal()
	if err != nil {
		return nil, nil, err
	}
	dir, err := os.MkdirTemp("", "xftp-redirect-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "description.xftp")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		return nil, nil, err
	}
	res, err := Upload(ctx, UploadRequest{Path: p, Servers: servers, Recipients: 1}, o)
	if err != nil {
		return nil, nil, fmt.Errorf("uploading the description as a redirect: %w", err)
	}
	r := res.Recipients[0]
	r.Party = chunk.PartyRedirect
	return r, res.Sender, nil
}

// followRedirect downloads the description a redirect points to.
func followRedirect(ctx context.Context, req DownloadRequest, o Options) (_ *chunk.Description, received int64, err error) {
	// Refuse before fetching anything: a redirect to a large file would
	// otherwise be downloaded whole into the temporary directory first.
	// Encryption and the chunk plan add less than one large chunk.
	if req.Description.Size > maxRedirectTarget+chunk.Size4M {
		return nil, 0, errors.New("a redirect points to a file too large to be a description")
	}
	dir, err := os.MkdirTemp("", "xftp-redirect-")
	if err != nil {
		return nil, 0, err
	}
	defer os.RemoveAll(dir)
	rd := *req.Description
	rd.Party = chunk.PartyRecipient
	o.Progress = nil
	res, err := Download(ctx, DownloadRequest{Description: &rd, Output: filepath.Join(dir, "description"), Keep: true}, o)
	if err != nil {
		return nil, 0, fmt.Errorf("fetching the redirected description: %w", err)
	}
	f, err := os.Open(res.Path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxRedirectTarget+1))
	if err != nil {
		return nil, 0, err
	}
	if len(b) > maxRedirectTarget {
		return nil, 0, errors.New("a redirect points to a file too large to be a description")
	}
	inner, err := chunk.Parse(b)
	if err != nil {
		return nil, 0, fmt.Errorf("a redirect points to something that is not a description: %w", err)
	}
	if inner.Party != chunk.PartyRecipient {
		return nil, 0, fmt.Errorf("a redirect must point to a recipient's description, not a %s's", inner.Party)
	}
	return inner, res.Received, nil
}
