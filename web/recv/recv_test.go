package recv_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xftp/xftp/blocklist"
	"github.com/xftp/xftp/chunk"
	"github.com/xftp/xftp/client"
	"github.com/xftp/xftp/identity"
	"github.com/xftp/xftp/internal/testrelay"
	"github.com/xftp/xftp/web/recv"
)

// page plays the part of web/static/app.js natively: it does the fetch()
// calls that recv prepares and feeds the bodies to it in small pieces.
type page struct {
	t     *testing.T
	s     *recv.Session
	hc    *http.Client
	file  []byte
	piece int
}

func newPage(t *testing.T, link string) *page {
	t.Helper()
	s, err := recv.Open(link)
	if err != nil {
		t.Fatal(err)
	}
	// Like a browser behind a web certificate, the page does not pin the
	// TLS key: trust comes from the identity challenge alone.
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}}
	t.Cleanup(hc.CloseIdleConnections)
	return &page{t: t, s: s, hc: hc, piece: 1000}
}

func (p *page) verify(server string) error {
	url, ch, err := p.s.IdentityRequest(server)
	if err != nil {
		return err
	}
	resp, err := p.hc.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return p.s.VerifyIdentity(server, ch, b)
}

// fetch downloads chunk i from its first replica; tamper may change the
// answer before the page sees it.
func (p *page) fetch(i int, tamper func(*http.Response)) error {
	server := p.s.Summary().Chunks[i].Replicas[0]
	if err := p.verify(server); err != nil {
		return err
	}
	d, req, err := p.s.NewDownload(i, 0)
	if err != nil {
		return err
	}
	hr, _ := http.NewRequest("POST", req.URL, strings.NewReader(req.Body))
	hr.Header.Set("Xftp-Auth", req.Auth)
	resp, err := p.hc.Do(hr)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if tamper != nil {
		tamper(resp)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case 451:
		b, _ := io.ReadAll(resp.Body)
		return d.Blocked(b)
	default:
		b, _ := io.ReadAll(resp.Body)
		return errors.New(recv.DescribeRefusal(d.Host(), resp.StatusCode, b))
	}
	if err := d.Start(resp.Header.Get("Xftp-Server-Key"), resp.Header.Get("Xftp-Key-Signature"), resp.ContentLength); err != nil {
		return err
	}
	buf := make([]byte, p.piece)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, err := d.Write(buf[:n]); err != nil {
				return err
			}
			p.take()
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			d.Abort()
			return rerr
		}
	}
	err = d.Close()
	p.take()
	return err
}

func (p *page) take() {
	for _, w := range p.s.TakeWrites() {
		if end := w.Offset + int64(len(w.Data)); end > int64(len(p.file)) {
			p.file = append(p.file, make([]byte, end-int64(len(p.file)))...)
		}
		copy(p.file[w.Offset:], w.Data)
	}
}

// upload sends size random bytes to the relays and returns them and the
// recipient link.
func upload(t *testing.T, size int, relays ...*testrelay.Relay) ([]byte, string, *chunk.Description) {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	path := filepath.Join(t.TempDir(), "report 2026.pdf")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var servers []string
	for _, r := range relays {
		servers = append(servers, r.Address.String())
	}
	res, err := client.UploadFile(context.Background(), client.UploadFileRequest{Path: path, Servers: servers, Recipients: 1}, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	link, err := res.Recipients[0].Link()
	if err != nil {
		t.Fatal(err)
	}
	return data, link, res.Recipients[0]
}

func TestReceive(t *testing.T) {
	relay := testrelay.Start(t, nil)
	for _, tc := range []struct {
		name  string
		size  int
		piece int
	}{
		{"empty", 0, 1000},
		{"one byte", 1, 1},
		{"one segment", 64<<10 - 16 - 512, 7},
		{"segment boundary", 64<<10 - 16 - 511, 65536},
		{"several chunks", 1<<20 + 300<<10 + 5, 16 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, link, _ := upload(t, tc.size, relay)
			p := newPage(t, "https://relay.example/d/#"+link)
			p.piece = tc.piece
			sum := p.s.Summary()
			// Chunk 0 first, as the page does: its header names the file.
			for i := range sum.Chunks {
				if err := p.fetch(i, nil); err != nil {
					t.Fatalf("chunk %d: %v", i, err)
				}
			}
			h, err := p.s.Header()
			if err != nil {
				t.Fatal(err)
			}
			if h.Name != "report 2026.pdf" || h.Size != int64(tc.size) {
				t.Fatalf("header %+v", h)
			}
			got := p.file
			if int64(len(got)) > h.Size {
				got = got[:h.Size]
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("received %d bytes that differ from the %d sent", len(got), len(want))
			}
		})
	}
}

func TestReceiveRefusesTampering(t *testing.T) {
	relay := testrelay.Start(t, nil)
	_, link, _ := upload(t, 100<<10, relay)
	for _, tc := range []struct {
		name   string
		tamper func(*http.Response)
		want   error
	}{
		{"server key not signed by the identity", func(r *http.Response) {
			k := make([]byte, 32)
			rand.Read(k)
			r.Header.Set("Xftp-Server-Key", base64.RawURLEncoding.EncodeToString(k))
		}, recv.ErrTransport},
		{"signature missing", func(r *http.Response) { r.Header.Del("Xftp-Key-Signature") }, recv.ErrTransport},
		{"wrong length", func(r *http.Response) { r.ContentLength-- }, recv.ErrTransport},
		{"bit flipped in transit", func(r *http.Response) { r.Body = &flipper{r: r.Body, at: 30000} }, recv.ErrTransport},
		{"cut short", func(r *http.Response) { r.Body = io.NopCloser(io.LimitReader(r.Body, 50000)) }, recv.ErrTransport},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPage(t, link)
			err := p.fetch(0, tc.tamper)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

type flipper struct {
	r   io.ReadCloser
	at  int
	off int
}

func (f *flipper) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if f.at >= f.off && f.at < f.off+n {
		p[f.at-f.off] ^= 1
	}
	f.off += n
	return n, err
}

func (f *flipper) Close() error { return f.r.Close() }

func TestIdentityMustMatchFingerprint(t *testing.T) {
	relay := testrelay.Start(t, nil)
	other := testrelay.Start(t, nil)
	_, link, d := upload(t, 10, relay)
	// The same link, with the server's host swapped for another relay's:
	// the fingerprint stays, so the other relay cannot prove it.
	d.Chunks[0].Replicas[0].Server = strings.Replace(d.Chunks[0].Replicas[0].Server, relay.Address.Host, other.Address.Host, 1)
	swapped, err := d.Link()
	if err != nil {
		t.Fatal(err)
	}
	p := newPage(t, swapped)
	if err := p.fetch(0, nil); !errors.Is(err, identity.ErrWrongIdentity) {
		t.Fatalf("got %v, want ErrWrongIdentity", err)
	}
	// Without a verified identity there is no request to send.
	p = newPage(t, link)
	if _, _, err := p.s.NewDownload(0, 0); err == nil {
		t.Fatal("NewDownload before the identity was verified")
	}
}

// TestBlockedRecord checks the verification of 451 answers: only a record
// signed by the pinned identity for the ID asked about is a block.
func TestBlockedRecord(t *testing.T) {
	relay := testrelay.Start(t, nil)
	_, link, d := upload(t, 10, relay)
	id, _, err := identity.LoadOrCreate(filepath.Join(relay.Dir, "identity.pem"))
	if err != nil {
		t.Fatal(err)
	}
	stranger, _, err := identity.LoadOrCreate(filepath.Join(t.TempDir(), "identity.pem"))
	if err != nil {
		t.Fatal(err)
	}
	rid := d.Chunks[0].Replicas[0].ID
	record := func(id *identity.Identity, chunkID []byte) string {
		r, err := blocklist.Sign(id, blocklist.Record{ChunkID: chunkID, Reason: blocklist.ReasonContent, Notice: "court order 12/2026", BlockedAt: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(map[string]string{"error": "BLOCKED", "record": base64.RawURLEncoding.EncodeToString(r.Marshal())})
		return string(b)
	}
	for _, tc := range []struct {
		name, body string
		blocked    bool
	}{
		{"valid", record(id, rid), true},
		{"another chunk", record(id, []byte("another-chunk-id")), false},
		{"another server", record(stranger, rid), false},
		{"no record", `{"error":"BLOCKED"}`, false},
		{"not JSON", `<html>`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPage(t, link)
			if err := p.verify(d.Chunks[0].Replicas[0].Server); err != nil {
				t.Fatal(err)
			}
			dl, _, err := p.s.NewDownload(0, 0)
			if err != nil {
				t.Fatal(err)
			}
			err = dl.Blocked([]byte(tc.body))
			var be *blocklist.BlockedError
			if got := errors.As(err, &be); got != tc.blocked {
				t.Fatalf("blocked = %v (%v), want %v", got, err, tc.blocked)
			}
			if tc.blocked {
				msg := be.Error()
				if !strings.HasPrefix(msg, "blocked by "+id.Fingerprint().String()[:8]+" for content: court order") {
					t.Fatalf("message %q", msg)
				}
			} else if !errors.Is(err, recv.ErrInvalidBlockingRecord) {
				t.Fatalf("got %v, want ErrInvalidBlockingRecord", err)
			}
		})
	}
}

func TestOpenRejects(t *testing.T) {
	relay := testrelay.Start(t, nil)
	data := make([]byte, 10)
	path := filepath.Join(t.TempDir(), "f")
	os.WriteFile(path, data, 0o600)
	res, err := client.UploadFile(context.Background(), client.UploadFileRequest{Path: path, Servers: []string{relay.Address.String()}, Recipients: 1}, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sender, _ := res.Sender.Link()
	recipient, _ := res.Recipients[0].Link()
	for name, link := range map[string]string{
		"empty":     "",
		"no link":   "https://relay.example/d/",
		"truncated": recipient[:len(recipient)-10],
		"damaged":   strings.Replace(recipient, recipient[20:24], "!!!!", 1),
		"sender":    sender,
	} {
		if _, err := recv.Open(link); err == nil {
			t.Errorf("%s: Open accepted %q", name, link)
		}
	}
}

func TestDescribeRefusal(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		want   string
	}{
		{403, `{"error":"AUTH"}`, "does not have this chunk any more"},
		{404, `{"error":"NO_CHUNK"}`, "has not received this chunk"},
		{429, ``, "rate-limiting"},
		{502, `<html>`, "answered HTTP 502"},
		{400, `{"error":"SYNTAX"}`, "answered 400 SYNTAX"},
	} {
		if got := recv.DescribeRefusal("relay.example:443", tc.status, []byte(tc.body)); !strings.Contains(got, tc.want) {
			t.Errorf("%d %s: %q does not say %q", tc.status, tc.body, got, tc.want)
		}
	}
}
