package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"

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
	res, err := Upload(ctx, UploadRequest{Source: bytes.NewReader(b), Size: int64(len(b)), Name: "description.xftp",
		Servers: servers, Recipients: 1}, o)
	if err != nil {
		return nil, nil, fmt.Errorf("uploading the description as a redirect: %w", err)
	}
	r := res.Recipients[0]
	r.Party = chunk.PartyRedirect
	return r, res.Sender, nil
}

// followRedirect downloads the description a redirect points to, into
// memory.
func followRedirect(ctx context.Context, d *chunk.Description, o Options) (_ *chunk.Description, received int64, err error) {
	// Refuse before fetching anything: a redirect to a large file would
	// otherwise be downloaded whole first. Encryption and the chunk plan
	// add less than one large chunk.
	if d.Size > maxRedirectTarget+chunk.Size4M {
		return nil, 0, errors.New("a redirect points to a file too large to be a description")
	}
	rd := *d
	rd.Party = chunk.PartyRecipient
	o.Progress = nil
	// The plaintext written is at most the chunks' size, d.Size.
	buf := make(memWriterAt, d.Size)
	res, err := Download(ctx, DownloadRequest{Description: &rd, Dest: buf, Keep: true}, o)
	if err != nil {
		return nil, 0, fmt.Errorf("fetching the redirected description: %w", err)
	}
	if res.Size > maxRedirectTarget {
		return nil, 0, errors.New("a redirect points to a file too large to be a description")
	}
	inner, err := chunk.Parse(buf[:res.Size])
	if err != nil {
		return nil, 0, fmt.Errorf("a redirect points to something that is not a description: %w", err)
	}
	if inner.Party != chunk.PartyRecipient {
		return nil, 0, fmt.Errorf("a redirect must point to a recipient's description, not a %s's", inner.Party)
	}
	return inner, res.Received, nil
}
