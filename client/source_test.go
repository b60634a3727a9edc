package client

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/xftp/xftp/chunk"
	"github.com/xftp/xftp/chunk/simplex"
	"github.com/xftp/xftp/internal/testrelay"
)

// An upload can read any io.ReaderAt instead of a file: what arrives is
// the same bytes under the given name.
func TestUploadFromReaderAt(t *testing.T) {
	r := testrelay.Start(t, nil)
	data := randomBytes(300<<10, 7)
	ctx := context.Background()
	up, err := Upload(ctx, UploadRequest{Source: bytes.NewReader(data), Size: int64(len(data)), Name: "from-memory.bin",
		Servers: servers(r), Recipients: 1}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if up.Size != int64(len(data)) {
		t.Fatalf("Uploaded.Size = %d", up.Size)
	}
	got, err := DownloadFile(ctx, DownloadFileRequest{Description: up.Recipients[0], Dir: t.TempDir()}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(got.Path)
	if err != nil || !bytes.Equal(b, data) || got.Name != "from-memory.bin" {
		t.Fatalf("downloaded %d bytes named %q (%v), want the source's %d named from-memory.bin", len(b), got.Name, err, len(data))
	}

	// And a download can write into any io.WriterAt.
	up, err = Upload(ctx, UploadRequest{Source: bytes.NewReader(data), Size: int64(len(data)), Name: "again.bin",
		Servers: servers(r), Recipients: 1}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var dst syncWriterAt
	got, err = Download(ctx, DownloadRequest{Description: up.Recipients[0], Dest: &dst}, Options{})
	if err != nil || got.Size != int64(len(data)) || got.Name != "again.bin" || got.Path != "" {
		t.Fatalf("download into a WriterAt: %+v, %v", got, err)
	}
	if !bytes.Equal(dst.bytes(got.Size), data) {
		t.Fatal("the WriterAt holds other bytes")
	}
}

// The engine works in memory: an upload from a bytes.Reader and a download
// into an io.WriterAt, with parity and through a redirect (whose
// description the engine uploads and fetches), create no file, not even
// for a while: the temporary, home and configuration directories are a
// regular file (creating anything below fails), and the working directory
// must stay empty.
func TestEngineTouchesNoFiles(t *testing.T) {
	relays := startRelays(t, 3)
	check := noFiles(t)
	data := randomBytes(1<<20+12345, 8)
	ctx := context.Background()
	up, err := Upload(ctx, UploadRequest{Source: bytes.NewReader(data), Size: int64(len(data)), Name: "memory.bin",
		Servers: servers(relays...), Recipients: 1, DataShards: 2, ParityShards: 1}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(up.Recipients[0].Parity) == 0 {
		t.Fatal("no parity chunks")
	}
	redirect, err := Redirect(ctx, up.Recipients[0], servers(relays[0]), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, d := range map[string]*chunk.Description{"description": up.Recipients[0], "redirect": redirect} {
		var dst syncWriterAt
		got, err := Download(ctx, DownloadRequest{Description: d, Dest: &dst, Keep: true}, Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.Name != "memory.bin" || got.Path != "" || !bytes.Equal(dst.bytes(got.Size), data) {
			t.Fatalf("%s: downloaded %+v, and other bytes", name, got)
		}
	}
	check()
}

// noFiles makes the temporary, home and configuration directories a
// regular file (creating anything below them fails) and the working
// directory an empty one; the function it returns fails the test if the
// working directory is no longer empty.
func noFiles(t *testing.T) func() {
	empty := t.TempDir()
	notDir := filepath.Join(t.TempDir(), "not-a-directory")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"TMPDIR", "TMP", "TEMP", "HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XFTP_HOME", "AppData", "LocalAppData"} {
		t.Setenv(v, notDir)
	}
	t.Chdir(empty)
	return func() {
		t.Helper()
		var made []string
		filepath.WalkDir(empty, func(p string, _ fs.DirEntry, err error) error {
			if p != empty {
				made = append(made, p)
			}
			return err
		})
		if len(made) != 0 {
			t.Fatalf("the engine created files: %v", made)
		}
	}
}

// The SimpleX engine works in memory too: sizes from empty to several
// chunks, through a link (a redirect for the larger ones) and through the
// description, one chunk at a time (several batches) and in parallel; a
// file that fails verification is an error.
func TestSimplexEngineTouchesNoFiles(t *testing.T) {
	fn := newFakeNet(3)
	check := noFiles(t)
	ctx := context.Background()
	for _, size := range []int64{0, 1, 65536 - 26, 9<<20 + 3} {
		data := randomBytes(size, 9)
		up, err := UploadSimplex(ctx, SimplexUploadRequest{Source: bytes.NewReader(data), Size: size, Name: "memory.bin",
			Servers: fn.addrs, Recipients: 1, dial: fn.dial}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		link, err := simplex.ParseLink(up.Links[0])
		if err != nil {
			t.Fatal(err)
		}
		if (up.Chunks > 1) != (link.Redirect != nil) {
			t.Fatalf("%d bytes: %d chunks, redirect %v", size, up.Chunks, link.Redirect != nil)
		}
		for _, parallel := range []int{1, 0} {
			for name, d := range map[string]*simplex.Description{"link": link, "description": up.Recipients[0]} {
				var dst syncWriterAt
				got, err := DownloadSimplex(ctx, SimplexDownloadRequest{Description: d, Dest: &dst, Keep: true, dial: fn.dial}, Options{Parallel: parallel})
				if err != nil {
					t.Fatalf("%d bytes, %s: %v", size, name, err)
				}
				if got.Name != "memory.bin" || got.Size != size || got.Path != "" || !bytes.Equal(dst.bytes(got.Size), data) {
					t.Fatalf("%d bytes, %s: downloaded %+v, and other bytes", size, name, got)
				}
			}
		}
	}
	d := *up1(t, fn)
	d.Digest = bytes.Clone(d.Digest)
	d.Digest[0] ^= 1
	var dst syncWriterAt
	if _, err := DownloadSimplex(ctx, SimplexDownloadRequest{Description: &d, Dest: &dst, dial: fn.dial}, Options{}); !errors.Is(err, errSimplexFileDigest) {
		t.Fatalf("a file that does not match its digest: %v", err)
	}
	fn.each(func(s *fakeXFTP) { s.tamperGet = true })
	defer fn.each(func(s *fakeXFTP) { s.tamperGet = false })
	if _, err := DownloadSimplex(ctx, SimplexDownloadRequest{Description: up1(t, fn), Dest: &dst, dial: fn.dial}, Options{Attempts: 1}); !errors.Is(err, errChunkDigest) {
		t.Fatalf("a tampered chunk: %v", err)
	}
	check()
}

// up1 uploads 300 KiB from memory as a SimpleX file and returns its
// recipient's description.
func up1(t *testing.T, fn *fakeNet) *simplex.Description {
	t.Helper()
	data := randomBytes(300<<10, 10)
	up, err := UploadSimplex(context.Background(), SimplexUploadRequest{Source: bytes.NewReader(data), Size: int64(len(data)), Name: "f",
		Servers: fn.addrs, Recipients: 1, dial: fn.dial}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return up.Recipients[0]
}

func randomBytes(n int64, seed uint64) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed)}).Read(b)
	return b
}

// syncWriterAt is an io.WriterAt in memory, safe for concurrent writes.
type syncWriterAt struct {
	mu sync.Mutex
	b  []byte
}

func (w *syncWriterAt) WriteAt(p []byte, off int64) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if n := int(off) + len(p); n > len(w.b) {
		w.b = append(w.b, make([]byte, n-len(w.b))...)
	}
	return copy(w.b[off:], p), nil
}

func (w *syncWriterAt) bytes(size int64) []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b[:min(size, int64(len(w.b)))]
}

// fetchInOrder delivers in order whatever order fetches end in, keeps at
// most 2*parallel items fetched and not delivered, and stops at the first
// error with every goroutine ended.
func TestFetchInOrder(t *testing.T) {
	const n, parallel = 50, 3
	var mu sync.Mutex
	pending, most := 0, 0
	var got []int
	err := fetchInOrder(context.Background(), n, parallel, func(ctx context.Context, i int) ([]byte, error) {
		mu.Lock()
		pending++
		most = max(most, pending)
		mu.Unlock()
		if i%7 == 0 {
			runtime.Gosched() // some end later than those after them
		}
		return []byte{byte(i)}, nil
	}, func(i int, b []byte) error {
		mu.Lock()
		pending--
		mu.Unlock()
		if int(b[0]) != i {
			t.Errorf("item %d delivered with item %d's bytes", i, b[0])
		}
		got = append(got, i)
		return nil
	})
	if err != nil || len(got) != n || !slices.IsSorted(got) {
		t.Fatalf("delivered %v, %v", got, err)
	}
	if most > 2*parallel {
		t.Fatalf("%d items fetched and not delivered at once, more than %d", most, 2*parallel)
	}

	boom := errors.New("boom")
	var fetches atomic.Int32
	err = fetchInOrder(context.Background(), n, parallel, func(ctx context.Context, i int) ([]byte, error) {
		fetches.Add(1)
		if i == 10 {
			return nil, boom
		}
		return []byte{0}, nil
	}, func(int, []byte) error { return nil })
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if f := fetches.Load(); f > 10+2*parallel+1 {
		t.Fatalf("%d fetches after an error at item 10", f)
	}
	stop := errors.New("stop")
	if err := fetchInOrder(context.Background(), n, parallel, func(context.Context, int) ([]byte, error) { return nil, nil },
		func(i int, _ []byte) error {
			if i == 3 {
				return stop
			}
			return nil
		}); !errors.Is(err, stop) {
		t.Fatalf("a delivery error: %v", err)
	}
}

// DownloadSimplexFile hashes the file while it decrypts it: a file that
// decrypts but does not match the description's digest is an error, and
// leaves no output.
func TestSimplexFileDigestMismatch(t *testing.T) {
	fn := newFakeNet(3)
	d := *up1(t, fn)
	d.Digest = bytes.Clone(d.Digest)
	d.Digest[0] ^= 1
	dir := t.TempDir()
	if _, err := DownloadSimplexFile(context.Background(), SimplexDownloadFileRequest{Description: &d, Dir: dir, Keep: true, dial: fn.dial}, Options{}); !errors.Is(err, errSimplexFileDigest) {
		t.Fatalf("a file that does not match its digest: %v", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
	got, err := DownloadSimplexFile(context.Background(), SimplexDownloadFileRequest{Description: up1(t, fn), Dir: dir, Keep: true, dial: fn.dial}, Options{})
	if err != nil || got.Size != 300<<10 {
		t.Fatalf("the same file with its digest: %+v, %v", got, err)
	}
}
