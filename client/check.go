package client

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/api/httpclient"
	"github.com/xftp/xftp/chunk"
	"github.com/xftp/xftp/identity"
)

// CheckStep is one step of a server self-test.
type CheckStep struct {
	Name string
	Err  error
	// Hint is the most likely cause of Err, for people.
	Hint string
}

// Check runs the operator's end-to-end self-test against one server:
// connect, verify identity, then create, upload, download, compare and
// delete one chunk of every size clients use. It returns the steps run;
// the last one failed if any did.
func Check(ctx context.Context, server string, o httpclient.ClientOptions) []CheckStep {
	var steps []CheckStep
	step := func(name string, f func() error) bool {
		err := f()
		steps = append(steps, CheckStep{Name: name, Err: err, Hint: hint(err)})
		return err == nil
	}
	var addr api.Address
	if !step("parse address", func() (err error) { addr, err = api.ParseAddress(server); return err }) {
		steps[len(steps)-1].Hint = "an address looks like xftp://FINGERPRINT@HOST:PORT; xftpd prints it at start and writes it to DATA/address"
		return steps
	}
	c := httpclient.NewClient(addr, o)
	defer c.Close()
	if !step("connect and verify identity", func() error { _, err := c.VerifyIdentity(ctx); return err }) {
		return steps
	}
	var sizes []int64
	if !step("ping", func() error {
		info, err := c.Ping(ctx)
		if err == nil {
			sizes = info.ChunkSizes
		}
		return err
	}) {
		return steps
	}
	// Every size clients cut files into, so a server whose chunk_sizes
	// lack one fails here rather than on the upload of a file that needs it.
	want := chunk.DefaultSizes()
	if len(sizes) > 0 {
		var missing []string
		for _, n := range want {
			if !slices.Contains(sizes, n) {
				missing = append(missing, sizeName(n))
			}
		}
		if len(missing) > 0 {
			steps = append(steps, CheckStep{Name: "chunk sizes", Err: fmt.Errorf("the server does not accept %s chunks", strings.Join(missing, ", ")),
				Hint: "xftp clients cut files into 64 KiB, 256 KiB, 1 MiB and 4 MiB chunks: set chunk_sizes: [64KiB, 256KiB, 1MiB, 4MiB]"})
			return steps
		}
		steps = append(steps, CheckStep{Name: "chunk sizes"})
	}
	for _, size := range want {
		if !checkSize(ctx, c, size, step) {
			return steps
		}
	}
	return steps
}

func sizeName(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

// checkSize runs create, upload, download, compare and delete with one
// chunk of size bytes; the step names carry the size.
func checkSize(ctx context.Context, c *httpclient.Client, size int64, step func(string, func() error) bool) bool {
	named := func(s string) string { return s + " (" + sizeName(size) + ")" }
	body := make([]byte, size)
	rand.Read(body)
	digest := sha256.Sum256(body)
	_, snd, _ := ed25519.GenerateKey(rand.Reader)
	rpub, rcp, _ := ed25519.GenerateKey(rand.Reader)
	var created *httpclient.Created
	if !step(named("create chunk"), func() (err error) {
		created, err = c.Create(ctx, snd, size, digest, []ed25519.PublicKey{rpub})
		return err
	}) {
		return false
	}
	deleteIt := func() error { return c.Delete(ctx, created.SenderID, snd) }
	if !step(named("upload chunk"), func() error { return c.Upload(ctx, created.SenderID, snd, bytes.NewReader(body), size) }) {
		deleteIt()
		return false
	}
	var got []byte
	if !step(named("download chunk"), func() error {
		rc, err := c.Download(ctx, created.RecipientIDs[0], rcp, size)
		if err != nil {
			return err
		}
		defer rc.Close()
		got, err = io.ReadAll(rc)
		return err
	}) {
		deleteIt()
		return false
	}
	if !step(named("compare"), func() error {
		if !bytes.Equal(got, body) {
			return errors.New("downloaded bytes differ from uploaded bytes")
		}
		return nil
	}) {
		deleteIt()
		return false
	}
	return step(named("delete chunk"), deleteIt)
}

// hint names the most likely cause of a failed step.
func hint(err error) string {
	if err == nil {
		return ""
	}
	var ae *api.Error
	var ne net.Error
	var oe *net.OpError
	msg := err.Error()
	switch {
	case errors.Is(err, identity.ErrWrongIdentity):
		return "the server's key does not match the address's fingerprint: copy the address again from xftpd's DATA/address. " +
			"Behind a TLS-terminating reverse proxy, the proxy needs a certificate valid for the host name and xftpd must run with --plain"
	case errors.As(err, &ae):
		switch ae.Code {
		case api.CodeAuth:
			return "the server wants an upload password (or a different one): use xftp://FINGERPRINT:PASSWORD@HOST:PORT"
		case api.CodeProhibited:
			return "the server is configured not to accept new chunks (new_chunks: false / --no-new-chunks)"
		case api.CodeQuota:
			return "the server's quota is full: raise quota or wait for chunks to expire"
		case api.CodeUnavailable:
			return "the server's storage backend (disk, S3 or Redis) is unreachable: check its /readyz and log"
		case api.CodeSize:
			return "the server does not accept this chunk size (chunk_sizes)"
		case api.CodeClock:
			return "this computer's clock is far from the server's: fix the time (NTP)"
		case api.CodeTooLarge:
			return "a request body was refused as too large: a reverse proxy in front of xftpd may limit bodies (nginx: client_max_body_size 8m)"
		}
		if ae.Status == 502 || ae.Status == 504 {
			return "a reverse proxy could not reach xftpd: check the proxy's upstream address and that xftpd runs with --plain behind it"
		}
		return "the server refused the request: see its log at debug level"
	case errors.As(err, &oe) && oe.Op == "dial":
		if strings.Contains(msg, "refused") {
			return "nothing listens on that host and port: is xftpd running, listening on a public address (listen: 0.0.0.0:PORT), and the port open in the firewall?"
		}
		if strings.Contains(msg, "no such host") {
			return "the host name does not resolve: check DNS or the host in the address"
		}
		return "the server cannot be reached: check the host, port and firewall"
	case strings.Contains(msg, "tls:") || strings.Contains(msg, "first record does not look like a TLS handshake") || strings.Contains(msg, "http2"):
		return "the TLS/HTTP2 handshake failed: something other than xftpd answers on that port (a reverse proxy must pass TLS through to xftpd, or terminate it with a valid certificate and forward to xftpd --plain)"
	case errors.As(err, &ne) && ne.Timeout():
		return "the server did not answer in time: check the network path and the server's load"
	case errors.Is(err, httpclient.ErrTransport):
		return "the download stream was changed or cut on the way: a middlebox may be altering traffic"
	}
	return fmt.Sprintf("unexpected error: %v", err)
}
