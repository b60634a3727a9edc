package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/api/httpclient"
)

// buildBinaries builds xftpd and xftp into dir unless paths were given.
// They are built in the product's module (the repository's root), with its
// go.mod: this module requires only what the benchmark links.
func buildBinaries(ctx context.Context, cfg *config, dir string) error {
	var root string
	for _, b := range []struct {
		path *string
		pkg  string
	}{{&cfg.XftpdBin, "./cmd/xftpd"}, {&cfg.XftpBin, "./cmd/xftp"}} {
		if *b.path != "" {
			continue
		}
		if root == "" {
			var err error
			if root, err = productModuleDir(ctx); err != nil {
				return err
			}
		}
		out := filepath.Join(dir, filepath.Base(b.pkg))
		cmd := exec.CommandContext(ctx, "go", "build", "-o", out, b.pkg)
		cmd.Dir = root
		if msg, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s in %s (run xftp-bench inside the repository, or pass --xftpd and --xftp): %v\n%s", b.pkg, root, err, msg)
		}
		*b.path = out
	}
	return nil
}

// productModuleDir is the folder of the module github.com/xftp/xftp as the
// go command resolves it from the working directory (this module's replace
// directive points it at the repository's root).
func productModuleDir(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "github.com/xftp/xftp").Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		return "", fmt.Errorf("finding the xftp module (run xftp-bench inside the repository, or pass --xftpd and --xftp): %v", err)
	}
	return dir, nil
}

// buildXftpd returns bin, or if it is empty, xftpd built into dir.
func buildXftpd(ctx context.Context, bin, dir string, logw io.Writer) (string, error) {
	if bin != "" {
		return bin, nil
	}
	fmt.Fprintf(logw, "# load average %s; building xftpd\n", loadAvg())
	// A path that is set keeps buildBinaries from building the client.
	bc := config{XftpBin: "(not used)"}
	err := buildBinaries(ctx, &bc, dir)
	return bc.XftpdBin, err
}

// childEnv is the environment without XFTPD_* settings from the caller,
// plus extra.
func childEnv(extra ...string) []string {
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "XFTPD_") {
			env = append(env, e)
		}
	}
	return append(env, extra...)
}

// backendConfig is the storage part of an xftpd configuration file.
type backendConfig struct {
	yaml string   // storage/records/redis sections; empty: fs + embedded
	env  []string // secrets
}

// startXftpd starts a real xftpd process with a fresh data directory.
func startXftpd(bin, dir, name string, b backendConfig) (*child, api.Address, error) {
	data := filepath.Join(dir, name)
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, api.Address{}, err
	}
	// The admin API is off: several processes would race for its port.
	conf := fmt.Sprintf("data: %s\nlisten: 127.0.0.1:0\nexpiry: 1h\ngrace: 2s\nadmin:\n  listen: \"\"\nlimits:\n  conns_per_source: 0\n  creates_per_minute: 0\n  downloads_per_minute: 0\n  requests_per_minute: 0\nlog:\n  level: warn\n  format: text\n%s", data, b.yaml)
	cf := filepath.Join(data, "xftpd.yaml")
	if err := os.WriteFile(cf, []byte(conf), 0o600); err != nil {
		return nil, api.Address{}, err
	}
	cmd := exec.Command(bin, "--config", cf)
	cmd.Env = childEnv(b.env...)
	c, line, err := startChild(name, dir, cmd, true)
	if err != nil {
		return nil, api.Address{}, err
	}
	addr, err := api.ParseAddress(line)
	if err != nil {
		c.stop()
		return nil, api.Address{}, fmt.Errorf("%s printed %q, not an address: %w", name, line, err)
	}
	return c, addr, nil
}

// stopXftpd stops the process and removes its data.
func stopXftpd(c *child, dir string) {
	c.stop()
	os.RemoveAll(filepath.Join(dir, c.name))
}

// xftpdClients returns one httpclient.Client per worker, or one shared by all.
func xftpdClients(addr api.Address, workers int, shared bool) []*httpclient.Client {
	cs := make([]*httpclient.Client, workers)
	for i := range cs {
		if i == 0 || !shared {
			cs[i] = httpclient.NewClient(addr, httpclient.ClientOptions{})
		} else {
			cs[i] = cs[0]
		}
	}
	return cs
}

// xftpdUploadOps: each operation creates a chunk with a fresh sender key
// and one recipient and uploads its body, in one request (PUT /v1/chunks,
// what the xftp client does) or, with twoStep, in two (POST /v1/chunks,
// then PUT /v1/chunks/{id}: the path for servers without the first).
func xftpdUploadOps(clients []*httpclient.Client, data []byte, digest [32]byte, twoStep bool) []opFunc {
	size := int64(len(data))
	ops := make([]opFunc, len(clients))
	for i, c := range clients {
		rpub, _, _ := ed25519.GenerateKey(rand.Reader)
		recipients := []ed25519.PublicKey{rpub}
		ops[i] = func(ctx context.Context) (int64, error) {
			_, sk, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				return 0, err
			}
			if !twoStep {
				if _, err := c.CreateUploaded(ctx, sk, size, digest, recipients, bytes.NewReader(data)); err != nil {
					return 0, fmt.Errorf("create and upload: %w", err)
				}
				return size, nil
			}
			cr, err := c.Create(ctx, sk, size, digest, recipients)
			if err != nil {
				return 0, fmt.Errorf("create: %w", err)
			}
			if err := c.Upload(ctx, cr.SenderID, sk, bytes.NewReader(data), size); err != nil {
				return 0, fmt.Errorf("upload: %w", err)
			}
			return size, nil
		}
	}
	return ops
}

type recipientRef struct {
	id  []byte
	key ed25519.PrivateKey
}

// precreate uploads n chunks of data (8 at a time) and returns one
// recipient of each, for download cells.
func precreate(ctx context.Context, addr api.Address, data []byte, digest [32]byte, n int) ([]recipientRef, error) {
	c := httpclient.NewClient(addr, httpclient.ClientOptions{})
	defer c.Close()
	size := int64(len(data))
	refs := make([]recipientRef, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 8)
	for i := range refs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			_, sk, _ := ed25519.GenerateKey(rand.Reader)
			rpub, rkey, _ := ed25519.GenerateKey(rand.Reader)
			cr, err := c.Create(ctx, sk, size, digest, []ed25519.PublicKey{rpub})
			if err == nil {
				err = c.Upload(ctx, cr.SenderID, sk, bytes.NewReader(data), size)
			}
			if err != nil {
				errs <- fmt.Errorf("pre-creating chunks: %w", err)
				return
			}
			refs[i] = recipientRef{id: cr.RecipientIDs[0], key: rkey}
		}()
	}
	wg.Wait()
	close(errs)
	return refs, <-errs
}

// xftpdDownloadOps: worker i downloads chunk i mod len(refs) again and
// again (the server re-encrypts each time), reading it all.
func xftpdDownloadOps(clients []*httpclient.Client, refs []recipientRef, size int64) []opFunc {
	ops := make([]opFunc, len(clients))
	for i, c := range clients {
		ref := refs[i%len(refs)]
		buf := make([]byte, copyBufSize)
		ops[i] = func(ctx context.Context) (int64, error) {
			rc, err := c.Download(ctx, ref.id, ref.key, size)
			if err != nil {
				return 0, fmt.Errorf("download: %w", err)
			}
			defer rc.Close()
			n, err := drain(rc, buf)
			if err != nil {
				return n, fmt.Errorf("download: %w", err)
			}
			return n, nil
		}
	}
	return ops
}

func closeClients(cs []*httpclient.Client) {
	for _, c := range cs {
		c.Close()
	}
}
