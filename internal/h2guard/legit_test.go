package h2guard

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
)

// client is Go's HTTP/2 client for ts: over TLS, or h2c with prior
// knowledge.
func (ts *testServer) client() (*http.Client, string) {
	tr := &http.Transport{Protocols: new(http.Protocols), TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	if ts.tls {
		tr.Protocols.SetHTTP2(true)
		tr.ForceAttemptHTTP2 = true
		return &http.Client{Transport: tr}, "https://" + ts.addr
	}
	tr.Protocols.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: tr}, "http://" + ts.addr
}

// TestConnectionState checks that handlers behind the guard still see
// the TLS state and the ConnContext values (the XFTP binding needs both).
func TestConnectionState(t *testing.T) {
	for _, useTLS := range []bool{true, false} {
		ts := startServer(t, useTLS)
		c, base := ts.client()
		resp, err := c.Get(base + "/conn")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
			t.Errorf("tls=%v: %s over %s", useTLS, resp.Status, resp.Proto)
		}
	}
}

// TestHeavyTransferNotCut runs many concurrent 4 MiB downloads (read 4 KiB
// at a time, so that Go's client sends the most WINDOW_UPDATEs it can)
// and uploads on one connection, and cancels some, and checks the guard
// closes nothing.
func TestHeavyTransferNotCut(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 1 GiB (-short)")
	}
	for _, useTLS := range []bool{true, false} {
		ts := startServer(t, useTLS)
		c, base := ts.client()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		body := bytes.Repeat([]byte{7}, blobSize)
		var wg sync.WaitGroup
		errs := make(chan error, 1000)
		for w := range 64 {
			wg.Go(func() {
				for i := range 4 {
					if err := transfer(ctx, c, base, body, (w+i)%2 == 0, w%8 == 0 && i == 3); err != nil {
						errs <- fmt.Errorf("worker %d, transfer %d: %w", w, i, err)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if f := ts.flooded(); len(f) > 0 {
			t.Errorf("tls=%v: guard closed connections of a correct client: %v", useTLS, f)
		}
	}
}

// transfer downloads or uploads one 4 MiB blob; cancel gives up halfway.
func transfer(ctx context.Context, c *http.Client, base string, body []byte, download, cancel bool) error {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	if !download {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/blob", bytes.NewReader(body))
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("upload: %s", resp.Status)
		}
		return nil
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/blob", nil)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if cancel {
		if _, err := io.CopyN(io.Discard, resp.Body, blobSize/2); err != nil {
			return err
		}
		stop() // the client resets the stream
		return nil
	}
	n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{resp.Body}, make([]byte, 4<<10))
	if err != nil {
		return err
	}
	if n != blobSize {
		return fmt.Errorf("download: %d bytes", n)
	}
	return nil
}
