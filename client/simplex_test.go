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
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/xftp/xftp/api/xftp"
	"github.com/xftp/xftp/chunk/simplex"
)

// fakeXFTP is an in-memory XFTP server for the engine's tests; the interop
// tests against xftpd and xftp-web are in simplex_interop_test.go.
type fakeXFTP struct {
	mu        sync.Mutex
	chunks    map[string]*fakeChunk // by sender ID
	rcv       map[string]string     // recipient ID -> sender ID
	gets      atomic.Int64
	failGet   func(c *fakeChunk) error // injected FGET failure
	tamperGet bool
}

type fakeChunk struct {
	snd    ed25519.PublicKey
	size   int64
	digest []byte
	body   []byte
	rcvs   map[string]ed25519.PublicKey
}

func newFakeXFTP() *fakeXFTP {
	return &fakeXFTP{chunks: map[string]*fakeChunk{}, rcv: map[string]string{}}
}

func randID() []byte {
	b := make([]byte, 16)
	rand.Read(b)
	return b
}

func (f *fakeXFTP) create(ctx context.Context, sender ed25519.PrivateKey, size int64, digest []byte, recipients []ed25519.PublicKey) ([]byte, [][]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sid := randID()
	c := &fakeChunk{snd: sender.Public().(ed25519.PublicKey), size: size, digest: digest, rcvs: map[string]ed25519.PublicKey{}}
	f.chunks[string(sid)] = c
	var rids [][]byte
	for _, k := range recipients {
		id := randID()
		c.rcvs[string(id)] = k
		f.rcv[string(id)] = string(sid)
		rids = append(rids, id)
	}
	return sid, rids, nil
}

func (f *fakeXFTP) sender(key ed25519.PrivateKey, id []byte) (*fakeChunk, error) {
	c := f.chunks[string(id)]
	if c == nil || !c.snd.Equal(key.Public()) {
		return nil, xftp.ErrAuth
	}
	return c, nil
}

func (f *fakeXFTP) addRecipients(ctx context.Context, sender ed25519.PrivateKey, sndID []byte, recipients []ed25519.PublicKey) ([][]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.sender(sender, sndID)
	if err != nil {
		return nil, err
	}
	var rids [][]byte
	for _, k := range recipients {
		id := randID()
		c.rcvs[string(id)] = k
		f.rcv[string(id)] = string(sndID)
		rids = append(rids, id)
	}
	return rids, nil
}

func (f *fakeXFTP) upload(ctx context.Context, sender ed25519.PrivateKey, sndID []byte, body io.Reader, size int64) error {
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.sender(sender, sndID)
	if err != nil {
		return err
	}
	if int64(len(b)) != c.size || size != c.size {
		return xftp.ErrSize
	}
	if s := sha256.Sum256(b); !bytes.Equal(s[:], c.digest) {
		return &xftp.Error{Code: xftp.CodeDigest}
	}
	c.body = b
	return nil
}

func (f *fakeXFTP) recipient(key ed25519.PrivateKey, id []byte) (*fakeChunk, error) {
	c := f.chunks[f.rcv[string(id)]]
	if c == nil || !c.rcvs[string(id)].Equal(key.Public()) {
		return nil, xftp.ErrAuth
	}
	return c, nil
}

func (f *fakeXFTP) download(ctx context.Context, recipient ed25519.PrivateKey, rcvID []byte, size int64) (io.ReadCloser, error) {
	f.mu.Lock()
	c, err := f.recipient(recipient, rcvID)
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if c.body == nil {
		return nil, &xftp.Error{Code: xftp.CodeNoFile}
	}
	f.gets.Add(1)
	if f.failGet != nil {
		if err := f.failGet(c); err != nil {
			return nil, err
		}
	}
	b := c.body
	if f.tamperGet {
		b = bytes.Clone(b)
		b[len(b)/2] ^= 1
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (f *fakeXFTP) remove(ctx context.Context, sender ed25519.PrivateKey, sndID []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.sender(sender, sndID)
	if err != nil {
		return err
	}
	for id := range c.rcvs {
		delete(f.rcv, id)
	}
	delete(f.chunks, string(sndID))
	return nil
}

func (f *fakeXFTP) ack(ctx context.Context, recipient ed25519.PrivateKey, rcvID []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.recipient(recipient, rcvID)
	if err != nil {
		return err
	}
	delete(c.rcvs, string(rcvID))
	delete(f.rcv, string(rcvID))
	return nil
}

func (f *fakeXFTP) close() {}

// fakeNet is a set of fake servers with their addresses.
type fakeNet struct {
	servers map[string]*fakeXFTP
	addrs   []string
}

func newFakeNet(n int) *fakeNet {
	fn := &fakeNet{servers: map[string]*fakeXFTP{}}
	for i := range n {
		kh := make([]byte, 32)
		kh[0] = byte(i)
		a := xftp.Address{Hosts: []string{fmt.Sprintf("s%d.example", i)}, Port: "443"}
		copy(a.KeyHash[:], kh)
		fn.servers[a.HostPort()] = newFakeXFTP()
		fn.addrs = append(fn.addrs, a.String())
	}
	return fn
}

func (fn *fakeNet) dial(ctx context.Context, a xftp.Address) (xftpServer, error) {
	s := fn.servers[a.HostPort()]
	if s == nil {
		return nil, fmt.Errorf("no server %s", a.HostPort())
	}
	return s, nil
}

func (fn *fakeNet) gets() int64 {
	var n int64
	for _, s := range fn.servers {
		n += s.gets.Load()
	}
	return n
}

func (fn *fakeNet) each(f func(*fakeXFTP)) {
	for _, s := range fn.servers {
		f(s)
	}
}

func writeRandom(t *testing.T, dir string, name string, n int64) (string, []byte) {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p, b
}

func testSimplexUpload(t *testing.T, fn *fakeNet, path string, recipients int) *SimplexUploaded {
	t.Helper()
	res, err := UploadSimplexFile(context.Background(), SimplexUploadFileRequest{Path: path, Servers: fn.addrs, Recipients: recipients, dial: fn.dial}, Options{Attempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestSimplexRoundTrip(t *testing.T) {
	fn := newFakeNet(3)
	for _, size := range []int64{0, 1, 65536 - 27, 65536 - 26, 1 << 20, 7<<20 + 3} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			dir := t.TempDir()
			path, data := writeRandom(t, dir, "in file.bin", size)
			res := testSimplexUpload(t, fn, path, 3)
			if len(res.Recipients) != 3 || len(res.Links) != 3 {
				t.Fatalf("%d recipients, %d links", len(res.Recipients), len(res.Links))
			}
			for r, rd := range res.Recipients {
				// Every recipient's link and description download the file;
				// the first through its link.
				d := rd
				if r == 0 {
					var err error
					if d, err = simplex.ParseLink(res.Links[0]); err != nil {
						t.Fatal(err)
					}
					if (res.Chunks > 1) != (d.Redirect != nil) {
						t.Fatalf("%d chunks, redirect %v", res.Chunks, d.Redirect != nil)
					}
				}
				out := filepath.Join(t.TempDir())
				got, err := DownloadSimplexFile(context.Background(), SimplexDownloadFileRequest{Description: d, Dir: out, Resume: true, dial: fn.dial}, Options{})
				if err != nil {
					t.Fatal(err)
				}
				b, err := os.ReadFile(got.Path)
				if err != nil || !bytes.Equal(b, data) || got.Name != "in file.bin" || filepath.Base(got.Path) != "in file.bin" {
					t.Fatalf("recipient %d: %s %q, %v", r+1, got.Path, got.Name, err)
				}
				if ents, _ := os.ReadDir(out); len(ents) != 1 {
					t.Fatalf("left %d files in the output folder", len(ents))
				}
				// Acknowledged: the same description no longer works.
				if _, err := DownloadSimplexFile(context.Background(), SimplexDownloadFileRequest{Description: d, Dir: out, dial: fn.dial}, Options{Attempts: 1}); !errors.Is(err, xftp.ErrAuth) {
					t.Fatalf("second download: %v", err)
				}
			}
			gone, err := deleteSimplex(context.Background(), res.Sender, Options{}, fn.dial)
			if err != nil || gone != 0 {
				t.Fatalf("delete: %d gone, %v", gone, err)
			}
		})
	}
}

func TestSimplexPaddedRecipients(t *testing.T) {
	fn := newFakeNet(1)
	path, _ := writeRandom(t, t.TempDir(), "f", 10)
	res := testSimplexUpload(t, fn, path, 5)
	var ids int
	fn.each(func(s *fakeXFTP) { ids += len(s.rcv) })
	if ids != 8 || len(res.Recipients) != 5 {
		t.Fatalf("%d recipient IDs for 5 recipients, want 8", ids)
	}
}

func TestSimplexResume(t *testing.T) {
	fn := newFakeNet(2)
	dir := t.TempDir()
	path, data := writeRandom(t, dir, "big", 12<<20-100) // 3 chunks of 4 MiB
	res := testSimplexUpload(t, fn, path, 1)
	d := res.Recipients[0]
	if len(d.Chunks) != 3 {
		t.Fatalf("%d chunks", len(d.Chunks))
	}
	// The last chunk fails for good on the first run.
	failGets(fn, d.Chunks[2].Digest)
	out := filepath.Join(t.TempDir(), "out.bin")
	req := SimplexDownloadFileRequest{Description: d, Output: out, Resume: true, dial: fn.dial}
	_, err := DownloadSimplexFile(context.Background(), req, Options{Parallel: 1, Attempts: 1})
	if err == nil || !strings.Contains(err.Error(), "kept") {
		t.Fatalf("first run: %v", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("output exists after a failed download")
	}
	resumeSimplex(t, fn, req, data, 1)
	if ents, _ := os.ReadDir(filepath.Dir(out)); len(ents) != 1 {
		t.Fatalf("left %d files", len(ents))
	}
}

// failGets makes every download of the chunk with this digest fail for good.
func failGets(fn *fakeNet, digest []byte) {
	fn.each(func(s *fakeXFTP) {
		s.failGet = func(c *fakeChunk) error {
			if bytes.Equal(c.digest, digest) {
				return xftp.ErrAuth
			}
			return nil
		}
	})
}

// resumeSimplex runs req again with every chunk available and checks that
// it fetched want chunks and delivered data.
func resumeSimplex(t *testing.T, fn *fakeNet, req SimplexDownloadFileRequest, data []byte, want int64) {
	t.Helper()
	before := fn.gets()
	fn.each(func(s *fakeXFTP) { s.failGet = nil })
	got, err := DownloadSimplexFile(context.Background(), req, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := fn.gets() - before; n != want {
		t.Fatalf("the resumed download fetched %d chunks, want %d", n, want)
	}
	if b, _ := os.ReadFile(got.Path); !bytes.Equal(b, data) {
		t.Fatal("resumed file differs")
	}
}

func TestSimplexDownloadFailures(t *testing.T) {
	fn := newFakeNet(1)
	path, _ := writeRandom(t, t.TempDir(), "f", 300<<10)
	fresh := func() *simplex.Description { return testSimplexUpload(t, fn, path, 1).Recipients[0] }
	for _, c := range []struct {
		name  string
		setup func(*simplex.Description)
		want  string
	}{
		{"tampered chunk", func(*simplex.Description) { fn.each(func(s *fakeXFTP) { s.tamperGet = true }) }, "does not match its digest in the description (the server sent other data)"},
		{"wrong file digest", func(d *simplex.Description) { d.Digest[0] ^= 1 }, "file does not match its digest"},
		{"wrong key", func(d *simplex.Description) { d.Key[0] ^= 1 }, "authentication failed"},
		{"deleted", func(d *simplex.Description) {}, "AUTH"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fn.each(func(s *fakeXFTP) { s.tamperGet = false })
			d := fresh()
			if c.name == "deleted" {
				fn.each(func(s *fakeXFTP) { s.chunks = map[string]*fakeChunk{} })
			}
			c.setup(d)
			dir := t.TempDir()
			out := filepath.Join(dir, "out")
			_, err := DownloadSimplexFile(context.Background(), SimplexDownloadFileRequest{Description: d, Output: out, dial: fn.dial}, Options{Attempts: 2})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Fatalf("left %d files (%s)", len(ents), ents[0].Name())
			}
		})
	}
	fn.each(func(s *fakeXFTP) { s.tamperGet = false })
	snd := testSimplexUpload(t, fn, path, 1).Sender
	if _, err := DownloadSimplexFile(context.Background(), SimplexDownloadFileRequest{Description: snd, dial: fn.dial}, Options{}); !errors.Is(err, ErrNotRecipient) {
		t.Fatalf("sender description: %v", err)
	}
}

// TestSimplexRedirectMismatch: a redirect that leads to a description of
// another file than it names is refused.
func TestSimplexRedirectMismatch(t *testing.T) {
	fn := newFakeNet(1)
	path, _ := writeRandom(t, t.TempDir(), "f", 300<<10) // two chunks: the link is a redirect
	res := testSimplexUpload(t, fn, path, 1)
	for _, mutate := range []func(*simplex.Description){
		func(d *simplex.Description) { d.Redirect.Digest[0] ^= 1 },
		func(d *simplex.Description) { d.Redirect.Size += simplex.Size64K },
	} {
		d, err := simplex.ParseLink(res.Links[0])
		if err != nil || d.Redirect == nil {
			t.Fatalf("link: %v", err)
		}
		mutate(d)
		dir := t.TempDir()
		_, err = DownloadSimplexFile(context.Background(), SimplexDownloadFileRequest{Description: d, Dir: dir, Keep: true, dial: fn.dial}, Options{})
		if err == nil || !strings.Contains(err.Error(), "another file than it names") {
			t.Fatalf("err = %v", err)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Fatalf("left %d files", len(ents))
		}
	}
}

// TestSimplexPartialLocked: a second download of the same description
// into the same folder does not share the first one's partial.
func TestSimplexPartialLocked(t *testing.T) {
	fn := newFakeNet(1)
	path, _ := writeRandom(t, t.TempDir(), "f", 1000)
	d := testSimplexUpload(t, fn, path, 1).Recipients[0]
	dir := t.TempDir()
	bind, err := simplexBinding(d)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(dir, ".xftp-simplex-"+bind[:32]+".partial"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	_, err = DownloadSimplexFile(context.Background(), SimplexDownloadFileRequest{Description: d, Dir: dir, Resume: true, dial: fn.dial}, Options{})
	if err == nil || !strings.Contains(err.Error(), "another download") {
		t.Fatalf("err = %v", err)
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	if _, err := DownloadSimplexFile(context.Background(), SimplexDownloadFileRequest{Description: d, Dir: dir, Resume: true, dial: fn.dial}, Options{}); err != nil {
		t.Fatal(err)
	}
}
