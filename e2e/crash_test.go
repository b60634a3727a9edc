package e2e

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/xftp/xftp/internal/testenv"
	"github.com/xftp/xftp/server"
	"github.com/xftp/xftp/storage/embedded"
)

// TestKill9UnderLoad kills xftpd with SIGKILL while 16 clients upload and
// download, restarts it on the same data and port, and checks that every
// client finishes through its retries, every file arrives intact, no
// temporary file is left, and the quota accounting matches the records.
func TestKill9UnderLoad(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	d := startDaemon(t, data)
	listen := hostOf(d.addr)

	// Files for the downloaders, uploaded before the crash.
	const n = 8
	var downloads []string
	for i := range n {
		f := filepath.Join(dir, fmt.Sprintf("pre%d.bin", i))
		writeRandom(t, f, 6<<20)
		mustOK(t, xftp(t, "upload", f, "--server", d.addr, "-q"), "pre-upload")
		downloads = append(downloads, f)
	}
	var uploads []string
	for i := range n {
		f := filepath.Join(dir, fmt.Sprintf("up%d.bin", i))
		writeRandom(t, f, 12<<20)
		uploads = append(uploads, f)
	}

	type job struct {
		args []string
		what string
	}
	var jobs []job
	for _, f := range uploads {
		jobs = append(jobs, job{[]string{"upload", f, "--server", d.addr, "--parallel", "2", "-q"}, "upload " + filepath.Base(f)})
	}
	for i, f := range downloads {
		jobs = append(jobs, job{[]string{"download", filepath.Join(f+".xftp", "rcv1.xftp"), "-o", filepath.Join(dir, fmt.Sprintf("got%d.bin", i)), "--keep", "--parallel", "2", "-q"}, "download " + filepath.Base(f)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	before := countFiles(filepath.Join(data, "chunks"))
	var wg sync.WaitGroup
	var finished atomic.Int32
	errs := make([]error, len(jobs))
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.CommandContext(ctx, filepath.Join(bin, "xftp"), j.args...)
			out, err := cmd.CombinedOutput()
			finished.Add(1)
			if err != nil {
				errs[i] = fmt.Errorf("%s: %v\n%s", j.what, err, out)
			}
		}()
	}
	// Kill once the uploads are writing bodies (new files in the store).
	testenv.Eventually(t, time.Minute, func() bool {
		return countFiles(filepath.Join(data, "chunks")) > before || finished.Load() == int32(len(jobs))
	}, "no upload reached the store")
	d.cmd.Process.Signal(syscall.SIGKILL)
	if f := finished.Load(); f == int32(len(jobs)) {
		t.Fatal("every transfer finished before the kill: the test proves nothing")
	}
	d.cmd.Wait()
	d2 := startDaemon(t, data, "--listen", listen)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("clients did not finish through the crash:\n%v", err)
	}
	for i, f := range downloads {
		sameFile(t, f, filepath.Join(dir, fmt.Sprintf("got%d.bin", i)))
	}
	for i, f := range uploads {
		out := filepath.Join(dir, fmt.Sprintf("back%d.bin", i))
		mustOK(t, xftp(t, "download", filepath.Join(f+".xftp", "rcv1.xftp"), "-o", out, "-q"), "download after crash")
		sameFile(t, f, out)
	}
	d2.stop(t)

	// No temporary file survived; the records' quota matches the records,
	// and every uploaded record has its body.
	filepath.Walk(filepath.Join(data, "chunks"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.HasPrefix(fi.Name(), ".tmp") {
			t.Errorf("temporary file left after restart: %s", p)
		}
		return nil
	})
	recs, err := embedded.Open(filepath.Join(data, "records.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer recs.Close()
	all, err := recs.Expired(context.Background(), time.Now().Add(100*365*24*time.Hour), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var bytes int64
	for _, r := range all {
		bytes += r.Size
		if r.Uploaded {
			fi, err := os.Stat(filepath.Join(data, "chunks", r.Key[:2], r.BodyName()))
			if err != nil || fi.Size() != server.StoredSize(r.Size) {
				t.Errorf("uploaded chunk without its whole body: %v", err)
			}
		}
	}
	u, _ := recs.Usage(context.Background())
	if u.Chunks != int64(len(all)) || u.Bytes != bytes {
		t.Fatalf("usage %+v, but the records hold %d chunks and %d bytes", u, len(all), bytes)
	}
}

// countFiles counts the files under dir (bodies and temporary files).
func countFiles(dir string) int {
	n := 0
	filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			n++
		}
		return nil
	})
	return n
}
