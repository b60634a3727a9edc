package client

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xftp/xftp/chunk"
	"github.com/xftp/xftp/internal/testrelay"
)

func startRelays(t *testing.T, n int) []*testrelay.Relay {
	rs := make([]*testrelay.Relay, n)
	for i := range rs {
		rs[i] = testrelay.Start(t, nil)
	}
	return rs
}

func roundTrip(t *testing.T, d *chunk.Description, dir, in string) error {
	t.Helper()
	out := filepath.Join(dir, fmt.Sprintf("out-%d", time.Now().UnixNano()))
	if _, err := DownloadFile(context.Background(), DownloadFileRequest{Description: d, Output: out, Keep: true}, Options{Attempts: 2}); err != nil {
		return err
	}
	defer os.Remove(out)
	if fileDigest(t, out) != fileDigest(t, in) {
		t.Fatal("downloaded file differs")
	}
	return nil
}

func TestErasureRoundTrips(t *testing.T) {
	relays := startRelays(t, 14)
	for _, km := range [][2]int{{1, 0}, {1, 1}, {2, 1}, {4, 2}, {10, 4}} {
		t.Run(fmt.Sprintf("%d+%d", km[0], km[1]), func(t *testing.T) {
			dir := t.TempDir()
			in := writeRandomFile(t, dir, 9<<20+777, uint64(km[0]*10+km[1]))
			up, err := UploadFile(context.Background(), UploadFileRequest{Path: in, Servers: servers(relays[:max(km[0]+km[1], 1)]...),
				Recipients: 1, DataShards: km[0], ParityShards: km[1]}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			d := up.Recipients[0]
			if d.Erasure.Parity != km[1] || len(d.Parity) != up.ParityChunks {
				t.Fatalf("description has %+v and %d parity chunks", d.Erasure, len(d.Parity))
			}
			if err := roundTrip(t, d, dir, in); err != nil {
				t.Fatal(err)
			}
			// Parity chunks never equal data chunks (they are masked), even
			// for 1+1, whose raw parity would be a copy.
			seen := map[[32]byte]bool{}
			for _, c := range append(append([]chunk.ChunkRef{}, d.Chunks...), d.Parity...) {
				if seen[c.Digest] {
					t.Fatal("two chunks of the file have the same digest: servers could link them")
				}
				seen[c.Digest] = true
			}
			// Delete removes data and parity chunks from every server.
			if _, err := Delete(context.Background(), up.Sender, Options{}); err != nil {
				t.Fatal(err)
			}
			for _, r := range relays {
				if u, _ := r.Service.Usage(context.Background()); u.Chunks != 0 {
					t.Fatalf("a server still holds %d chunks after delete", u.Chunks)
				}
			}
		})
	}
}

// sixServers uploads a file 4+2 across six relays and returns them with its
// recipient description.
func sixServers(t *testing.T, size int64) ([]*testrelay.Relay, *chunk.Description, string, string) {
	t.Helper()
	relays := startRelays(t, 6)
	dir := t.TempDir()
	in := writeRandomFile(t, dir, size, 42)
	up, err := UploadFile(context.Background(), UploadFileRequest{Path: in, Servers: servers(relays...), Recipients: 1}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if up.Erasure != (chunk.ErasureParams{Data: 4, Parity: 2}) {
		t.Fatalf("six servers default to %+v, want 4+2", up.Erasure)
	}
	return relays, up.Recipients[0], dir, in
}

func TestErasureSurvivesTwoStoppedServers(t *testing.T) {
	relays, d, dir, in := sixServers(t, 20<<20)
	relays[1].Stop()
	relays[4].Stop()
	if err := roundTrip(t, d, dir, in); err != nil {
		t.Fatalf("4+2 with 2 servers down: %v", err)
	}
}

func TestErasureSurvivesTwoCorruptChunks(t *testing.T) {
	relays, d, dir, in := sixServers(t, 20<<20)
	n := 0
	for _, r := range relays[:2] { // one stored chunk each on two servers
		filepath.Walk(filepath.Join(r.Dir, "chunks"), func(p string, fi os.FileInfo, err error) error {
			if err != nil || fi.IsDir() || n >= 2 || strings.HasPrefix(fi.Name(), ".") {
				return nil
			}
			b, _ := os.ReadFile(p)
			b[len(b)/3] ^= 0x40
			os.WriteFile(p, b, 0o600)
			n++
			return filepath.SkipAll
		})
	}
	if n != 2 {
		t.Fatalf("corrupted %d chunks, want 2", n)
	}
	if err := roundTrip(t, d, dir, in); err != nil {
		t.Fatalf("4+2 with 2 corrupt chunks: %v", err)
	}
}

// A server that never answers downloads must not hold the download up:
// hedged requests to the other servers finish it. (It blocks until the test
// ends, so a download that waited for it would hit the context deadline.)
func TestErasureHedgesASlowServer(t *testing.T) {
	relays, d, dir, in := sixServers(t, 20<<20)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	var stalled atomic.Int32
	var slow *testrelay.Relay // the server of the first data chunk
	for _, r := range relays {
		if r.Address.Redacted() == d.Chunks[0].Replicas[0].Server {
			slow = r
		}
	}
	slow.Wrap = func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/download") {
				stalled.Add(1)
				select {
				case <-release:
				case <-r.Context().Done():
				}
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := filepath.Join(dir, "out")
	if _, err := DownloadFile(ctx, DownloadFileRequest{Description: d, Output: out, Keep: true}, Options{}); err != nil {
		t.Fatalf("download with a stalled server: %v", err)
	}
	if fileDigest(t, out) != fileDigest(t, in) {
		t.Fatal("downloaded file differs")
	}
	if stalled.Load() == 0 {
		t.Fatal("the stalled server was never asked: the test proves nothing")
	}
}

func TestErasureFailsClearlyWithThreeServersGone(t *testing.T) {
	relays, d, dir, in := sixServers(t, 20<<20)
	for _, i := range []int{0, 2, 5} {
		relays[i].Stop()
	}
	err := roundTrip(t, d, dir, in)
	if !errors.Is(err, chunk.ErrTooManyErasures) || !strings.Contains(err.Error(), "stripe") {
		t.Fatalf("4+2 with 3 servers gone: %v; want a too-many-erasures error naming the stripe", err)
	}
	assertNoOutput(t, dir)
}

// TestUploadResumes interrupts an upload halfway and runs it again: the
// second run sends only the chunks the first did not finish, as the
// servers' own count of body bytes received shows. (A chunk whose upload
// completed on its server just as the first run was cancelled, before the
// client saw the answer, is sent again: it was not finished for the client.)
func TestUploadResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: skips the 200 MiB upload")
	}
	relays := startRelays(t, 6)
	// Chunk bytes the servers received, by the run whose request it was
	// (requests of the first run may still be read after it returned).
	var received [2]atomic.Int64
	var run atomic.Int32
	for _, r := range relays {
		r.Wrap = func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				if req.Method == http.MethodPut {
					cb := &countingBody{ReadCloser: req.Body, n: &received[run.Load()]}
					if req.URL.Path == "/v1/chunks" {
						cb.prefix = 4 // the create request framed before the chunk
					}
					req.Body = cb
				}
				next.ServeHTTP(w, req)
			})
		}
	}
	dir := t.TempDir()
	in := writeRandomFile(t, dir, 200<<20, 9)
	state := filepath.Join(dir, "upload.state")
	req := UploadFileRequest{Path: in, Servers: servers(relays...), Recipients: 2, StateFile: state}
	ctx, cancel := context.WithCancel(context.Background())
	var first atomic.Int32
	var finishedBytes atomic.Int64
	_, err := UploadFile(ctx, req, Options{Progress: func(e Event) {
		if e.Retry {
			return
		}
		finishedBytes.Add(e.Bytes)
		if first.Add(1) == 40 {
			cancel() // Ctrl-C halfway
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted upload: %v", err)
	}
	finished := first.Load()
	run.Store(1)
	up, err := UploadFile(context.Background(), req, Options{})
	if err != nil {
		t.Fatalf("resumed upload: %v", err)
	}
	var all int64
	for _, c := range append(up.Recipients[0].Chunks, up.Recipients[0].Parity...) {
		all += c.Size
	}
	before, after := received[0].Load(), received[1].Load()
	t.Logf("%d chunks, %d bytes; first run finished %d chunks (%d bytes received), second run: %d bytes",
		up.Chunks+up.ParityChunks, all, finished, before, after)
	// The second run may send only the chunks the first did not finish.
	if int32(up.Resumed) < finished || after > all-finishedBytes.Load() {
		t.Fatalf("resume re-sent chunks: %d finished before (%d bytes), %d bytes sent after, %d in all",
			finished, finishedBytes.Load(), after, all)
	}
	if err := RemoveState(state); err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(t, up.Recipients[1], dir, in); err != nil {
		t.Fatal(err)
	}
}

// TestDownloadResumes interrupts a download and runs it again: no chunk
// the first run recorded as written is fetched again (but those of the
// stripe holding chunk 0, the header), and the partial files are gone
// afterwards.
func TestDownloadResumes(t *testing.T) {
	for _, shards := range [][2]int{{1, 0}, {2, 1}} {
		t.Run(fmt.Sprintf("%d+%d", shards[0], shards[1]), func(t *testing.T) {
			relays := startRelays(t, 3)
			var gets atomic.Int32
			var mu sync.Mutex
			var again map[string]bool // the paths the resumed download asked for
			for _, r := range relays {
				r.Wrap = func(next http.Handler) http.Handler {
					return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
						if strings.HasSuffix(req.URL.Path, "/download") {
							gets.Add(1)
							mu.Lock()
							if again != nil {
								again[req.URL.Path] = true
							}
							mu.Unlock()
						}
						next.ServeHTTP(w, req)
					})
				}
			}
			dir := t.TempDir()
			in := writeRandomFile(t, dir, 60<<20, 11)
			up, err := UploadFile(context.Background(), UploadFileRequest{Path: in, Servers: servers(relays...), Recipients: 1,
				DataShards: shards[0], ParityShards: shards[1]}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "out")
			req := DownloadFileRequest{Description: up.Recipients[0], Output: out, Resume: true}
			ctx, cancel := context.WithCancel(context.Background())
			var n atomic.Int32
			_, err = DownloadFile(ctx, req, Options{Parallel: 2, Progress: func(e Event) {
				if !e.Retry && n.Add(1) == 8 {
					cancel()
				}
			}})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted download: %v", err)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Fatal("an interrupted download left a file at the output path")
			}
			partials, _ := filepath.Glob(filepath.Join(dir, ".xftp-*.partial*"))
			if len(partials) != 2 {
				t.Fatalf("partial files after interruption: %v", partials)
			}
			// What the interrupted download recorded as written (its
			// state file): how many finished before the cancel reached
			// the workers depends on the machine's load.
			written := writtenChunks(t, dir)
			if len(written) == 0 {
				t.Fatal("the interrupted download recorded no chunk as written")
			}
			before := gets.Load()
			mu.Lock()
			again = map[string]bool{}
			mu.Unlock()
			if _, err := DownloadFile(context.Background(), req, Options{}); err != nil {
				t.Fatalf("resumed download: %v", err)
			}
			if fileDigest(t, out) != fileDigest(t, in) {
				t.Fatal("resumed download differs")
			}
			t.Logf("%d data chunks; %d fetched before the interruption, %d recorded written, %d fetched after",
				len(up.Recipients[0].Chunks), before, len(written), gets.Load()-before)
			// Chunks recorded as written are not fetched again; only the
			// stripe holding chunk 0 (the header) is. The count of fetches
			// is no measure: a stripe asks for one more chunk (parity)
			// when a request is slow, as on a loaded machine.
			mu.Lock()
			defer mu.Unlock()
			for _, i := range written {
				if i < shards[0] {
					continue
				}
				for _, rep := range up.Recipients[0].Chunks[i].Replicas {
					if again["/v1/chunks/"+base64.RawURLEncoding.EncodeToString(rep.ID)+"/download"] {
						t.Fatalf("the resumed download fetched chunk %d, which the interrupted one had written", i+1)
					}
				}
			}
			if partials, _ := filepath.Glob(filepath.Join(dir, ".xftp-*")); len(partials) != 0 {
				t.Fatalf("partial files left after success: %v", partials)
			}
		})
	}
}

// countingBody counts the chunk bytes read from a request body: after the
// create request framed in front of it if prefix is 4 (PUT /v1/chunks: a
// 4-byte length and that much JSON).
type countingBody struct {
	io.ReadCloser
	n      *atomic.Int64
	prefix int64 // bytes still to skip; the length is read into hdr
	hdr    []byte
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	b := p[:n]
	for len(b) > 0 && c.prefix > 0 {
		k := int(min(int64(len(b)), c.prefix))
		if len(c.hdr) < 4 {
			k = min(k, 4-len(c.hdr))
			c.hdr = append(c.hdr, b[:k]...)
			if c.prefix -= int64(k); len(c.hdr) == 4 {
				c.prefix = int64(binary.BigEndian.Uint32(c.hdr))
			}
		} else {
			c.prefix -= int64(k)
		}
		b = b[k:]
	}
	c.n.Add(int64(len(b)))
	return n, err
}

func TestRedirect(t *testing.T) {
	relays := startRelays(t, 2)
	dir := t.TempDir()
	in := writeRandomFile(t, dir, 5<<20, 21)
	up, err := UploadFile(context.Background(), UploadFileRequest{Path: in, Servers: servers(relays...), Recipients: 1}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Redirect(context.Background(), up.Recipients[0], servers(relays...), Options{})
	if err != nil {
		t.Fatal(err)
	}
	link, err := r.Link()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := chunk.Parse([]byte(link))
	if err != nil || parsed.Party != chunk.PartyRedirect {
		t.Fatalf("redirect link: %v, party %v", err, parsed.Party)
	}
	if err := roundTrip(t, parsed, dir, in); err != nil {
		t.Fatalf("download through a redirect: %v", err)
	}
	// A redirect to something that is not a description fails clearly.
	bogus, err := UploadFile(context.Background(), UploadFileRequest{Path: in, Servers: servers(relays[0]), Recipients: 1}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	bogus.Recipients[0].Party = chunk.PartyRedirect
	if _, err := DownloadFile(context.Background(), DownloadFileRequest{Description: bogus.Recipients[0], Output: filepath.Join(dir, "x")}, Options{}); err == nil || !strings.Contains(err.Error(), "not a description") {
		t.Fatalf("redirect to a non-description: %v", err)
	}
}

// writtenChunks is the chunks (0-based), other than chunk 0 (always fetched
// again for its header), that the partial download in dir recorded as
// written in its state file.
func writtenChunks(t *testing.T, dir string) []int {
	t.Helper()
	states, _ := filepath.Glob(filepath.Join(dir, ".xftp-*.partial.state"))
	if len(states) != 1 {
		t.Fatalf("state files after interruption: %v", states)
	}
	b, err := os.ReadFile(states[0])
	if err != nil {
		t.Fatal(err)
	}
	var st struct{ Done map[int]bool }
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	var written []int
	for i, ok := range st.Done {
		if ok && i != 0 {
			written = append(written, i)
		}
	}
	return written
}
