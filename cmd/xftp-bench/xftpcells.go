package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/xftp/xftp/api/xftp"
	"github.com/xftp/xftp/api/xftpclient"
)

// The "xftpd-xftp" cells load the same xftpd as the native cells through
// its SimpleX XFTP binding, with api/xftpclient as SimpleX's native
// clients connect (ALPN xftp/1, TLS 1.2 with ChaCha20-Poly1305, one
// command at a time per session), one session (one connection) per
// worker. Upload = FNEW with a fresh sender key and one recipient, then
// FPUT of the body: two requests, as the protocol has it. Download = FGET
// of a pre-created chunk (the server seals it for the request with
// XSalsa20-Poly1305, the client opens it).

// xftpAddressOf reads the XFTP address xftpd prints after its native one.
func xftpAddressOf(c *child) (xftp.Address, error) {
	line := make(chan string, 1)
	go func() {
		if c.lines.Scan() {
			line <- c.lines.Text()
		}
		close(line)
	}()
	select {
	case l, ok := <-line:
		if !ok {
			return xftp.Address{}, fmt.Errorf("%s printed no XFTP address: %s", c.name, c.tail())
		}
		return xftp.ParseAddress(l)
	case <-time.After(time.Minute):
		return xftp.Address{}, fmt.Errorf("%s printed no XFTP address within a minute", c.name)
	}
}

// xftpDialAll opens n sessions (one per worker), or one shared by all.
func xftpDialAll(ctx context.Context, addr xftp.Address, n int, shared bool) ([]*xftpclient.Client, error) {
	cs := make([]*xftpclient.Client, n)
	for i := range cs {
		if i > 0 && shared {
			cs[i] = cs[0]
			continue
		}
		c, err := xftpclient.Dial(ctx, addr, xftpclient.Options{})
		if err != nil {
			xftpCloseAll(cs[:i])
			return nil, fmt.Errorf("xftp dial: %w", err)
		}
		cs[i] = c
	}
	return cs, nil
}

func xftpCloseAll(cs []*xftpclient.Client) {
	for i, c := range cs {
		if c != nil && (i == 0 || c != cs[0]) {
			c.Close()
		}
	}
}

// xftpUploadOps: each operation creates a chunk with a fresh sender key
// and one recipient (FNEW), then uploads its body (FPUT).
func xftpUploadOps(clients []*xftpclient.Client, p payload) []opFunc {
	size := int64(len(p.data))
	ops := make([]opFunc, len(clients))
	for i, c := range clients {
		rpub, _, _ := ed25519.GenerateKey(rand.Reader)
		recipients := []ed25519.PublicKey{rpub}
		ops[i] = func(ctx context.Context) (int64, error) {
			_, sk, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				return 0, err
			}
			sid, _, err := c.Create(ctx, sk, uint32(size), p.digest[:], recipients, "")
			if err != nil {
				return 0, fmt.Errorf("FNEW: %w", err)
			}
			if err := c.Upload(ctx, sk, sid, bytes.NewReader(p.data), size); err != nil {
				return 0, fmt.Errorf("FPUT: %w", err)
			}
			return size, nil
		}
	}
	return ops
}

// xftpPrecreate uploads n chunks of p over XFTP (on up to 8 sessions at
// once) and returns one recipient of each, for download cells.
func xftpPrecreate(ctx context.Context, addr xftp.Address, p payload, n int) ([]recipientRef, error) {
	cs, err := xftpDialAll(ctx, addr, min(n, 8), false)
	if err != nil {
		return nil, err
	}
	defer xftpCloseAll(cs)
	size := int64(len(p.data))
	refs := make([]recipientRef, n)
	errs := make([]error, len(cs))
	var wg sync.WaitGroup
	for w, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += len(cs) {
				_, sk, _ := ed25519.GenerateKey(rand.Reader)
				rpub, rkey, _ := ed25519.GenerateKey(rand.Reader)
				sid, rids, err := c.Create(ctx, sk, uint32(size), p.digest[:], []ed25519.PublicKey{rpub}, "")
				if err == nil {
					err = c.Upload(ctx, sk, sid, bytes.NewReader(p.data), size)
				}
				if err != nil {
					errs[w] = fmt.Errorf("pre-creating chunks over XFTP: %w", err)
					return
				}
				refs[i] = recipientRef{id: rids[0], key: rkey}
			}
		}()
	}
	wg.Wait()
	return refs, errors.Join(errs...)
}

// xftpDownloadOps: worker i downloads chunk i mod len(refs) again and
// again (FGET; the server seals it for each request), reading it all.
func xftpDownloadOps(clients []*xftpclient.Client, refs []recipientRef, size int64) []opFunc {
	ops := make([]opFunc, len(clients))
	for i, c := range clients {
		ref := refs[i%len(refs)]
		w := &drainWriter{buf: make([]byte, copyBufSize)}
		ops[i] = func(ctx context.Context) (int64, error) {
			w.n = 0
			if err := c.Download(ctx, ref.key, ref.id, size, w); err != nil {
				return w.n, fmt.Errorf("FGET: %w", err)
			}
			if w.n != size {
				return w.n, fmt.Errorf("FGET: %d bytes, want %d", w.n, size)
			}
			return w.n, nil
		}
	}
	return ops
}

// drainWriter discards what is copied to it, reading with its own buffer
// (io.Copy calls ReadFrom), as the other cells' clients read with
// copyBufSize buffers rather than io.Copy's 32 KiB.
type drainWriter struct {
	buf []byte
	n   int64
}

func (w *drainWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

func (w *drainWriter) ReadFrom(r io.Reader) (int64, error) {
	n, err := drain(r, w.buf)
	w.n += n
	return n, err
}

// xftpdXFTPCell measures one cell of xftpd's XFTP binding on a fresh
// xftpd process.
func xftpdXFTPCell(ctx context.Context, cfg *config, dir string, spec loadSpec, op string, p payload, n int) row {
	const section = "xftpd-xftp"
	size := int64(len(p.data))
	fail := func(err error) row { return newRow(section, op, size, n, loadResult{}, err) }
	srv, _, err := startXftpd(cfg.XftpdBin, dir, fmt.Sprintf("%s-%s-%d-%d", section, op, size, n), backendConfig{})
	if err != nil {
		return fail(err)
	}
	defer stopXftpd(srv, dir)
	addr, err := xftpAddressOf(srv)
	if err != nil {
		return fail(err)
	}
	clients, err := xftpDialAll(ctx, addr, n, cfg.Shared)
	if err != nil {
		return fail(err)
	}
	defer xftpCloseAll(clients)
	var ops []opFunc
	switch op {
	case "upload":
		ops = xftpUploadOps(clients, p)
	case "download":
		refs, err := xftpPrecreate(ctx, addr, p, min(n, 16))
		if err != nil {
			return fail(err)
		}
		ops = xftpDownloadOps(clients, refs, size)
	}
	r, err := runLoad(ctx, spec, srv.pid(), ops)
	if err != nil {
		err = fmt.Errorf("%w (server log: %s)", err, srv.tail())
	}
	return newRow(section, op, size, n, r, err)
}
