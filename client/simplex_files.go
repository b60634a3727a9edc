package client

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/xftp/xftp/chunk/simplex"
)

// The SimpleX file front end: UploadSimplexFile and DownloadSimplexFile
// over the engine's UploadSimplex and the fetching DownloadSimplex shares.
// A download keeps the encrypted file (a SimpleX file is authenticated as
// a whole) in a temporary or, with Resume, a partial file next to the
// output, and decrypts it into another, renamed into place once verified.

// SimplexUploadFileRequest says what file to send as a SimpleX file:
// UploadSimplex's request with a path instead of a reader.
type SimplexUploadFileRequest struct {
	// Path is the file to send; its base name goes in the description.
	Path string
	// Servers, Recipients and RedirectThreshold are as in
	// SimplexUploadRequest.
	Servers           []string
	Recipients        int
	RedirectThreshold int

	dial xftpDialer // tests
}

// UploadSimplexFile sends the file at req.Path as a SimpleX file (see
// UploadSimplex).
func UploadSimplexFile(ctx context.Context, req SimplexUploadFileRequest, o Options) (*SimplexUploaded, error) {
	f, fi, err := openRegular(req.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return UploadSimplex(ctx, SimplexUploadRequest{Source: f, Size: fi.Size(), Name: filepath.Base(req.Path),
		Servers: req.Servers, Recipients: req.Recipients, RedirectThreshold: req.RedirectThreshold, dial: req.dial}, o)
}

// SimplexDownloadFileRequest says what SimpleX file to download and into
// which file.
type SimplexDownloadFileRequest struct {
	// Description is a recipient's description (simplex.Parse or
	// simplex.ParseLink); a redirect is followed.
	Description *simplex.Description
	// Output, Dir, Keep and Resume are as in DownloadFileRequest: the
	// file's own (sanitized) name in Dir when Output is empty, never
	// overwriting; FACK after the file is written unless Keep; with Resume
	// an interrupted download keeps its verified chunks next to the output
	// and continues from them when the same description is downloaded
	// again.
	Output string
	Dir    string
	Keep   bool
	Resume bool

	dial xftpDialer // tests
}

// DownloadSimplexFile fetches, verifies and decrypts a SimpleX file into a
// file. Every chunk is checked against its SHA-256 digest, the encrypted
// file against its SHA-512 digest and the file against its Poly1305 tag
// before the output appears: data goes to temporary files in the target
// directory, and the verified file is renamed into place (mode 0600).
func DownloadSimplexFile(ctx context.Context, req SimplexDownloadFileRequest, o Options) (*Downloaded, error) {
	return downloadSimplexWith(ctx, req.Description, req.Keep, req.dial, o, func(ctx context.Context, d *simplex.Description, p *xftpPool, o *Options) (*Downloaded, error) {
		return downloadSimplexFile(ctx, d, req, p, o)
	})
}

// simplexPartial is a resumable download's state: the encrypted file's
// chunks fetched so far, bound to the whole description.
type simplexPartial struct {
	Version int    `json:"version"`
	Binding string `json:"binding"`
	Done    []int  `json:"done"` // chunk numbers
	file    localFile
	mu      sync.Mutex
}

// simplexPartialVersion is the version of a SimpleX partial's state file.
const simplexPartialVersion = 1

// simplexBinding is SHA-256 of the description's YAML: a partial is used
// only for the very same description (key, nonce, digests, every replica).
func simplexBinding(d *simplex.Description) (string, error) {
	y, err := d.Marshal()
	if err != nil {
		return "", err
	}
	s := sha256.Sum256(append([]byte("xftp simplex partial\n"), y...))
	return hex.EncodeToString(s[:]), nil
}

func (s *simplexPartial) save() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.file.save(s)
}

func (s *simplexPartial) mark(no int) error {
	s.mu.Lock()
	s.Done = append(s.Done, no)
	s.mu.Unlock()
	return s.save()
}

// downloadSimplexFile is DownloadSimplexFile's fetch: the encrypted file
// into a temporary or partial file in dir, then the decrypted one into
// another, renamed into place once verified.
func downloadSimplexFile(ctx context.Context, d *simplex.Description, req SimplexDownloadFileRequest, p *xftpPool, o *Options) (res *Downloaded, err error) {
	dir := outputDir(req.Output, req.Dir)
	var enc *os.File
	var state *simplexPartial
	done := map[int]bool{}
	if req.Resume {
		bind, err := simplexBinding(d)
		if err != nil {
			return nil, err
		}
		name := filepath.Join(dir, ".xftp-simplex-"+bind[:32]+".partial")
		state = &simplexPartial{Version: simplexPartialVersion, Binding: bind,
			file: localFile{path: name + ".state", version: simplexPartialVersion}}
		var old simplexPartial
		if found, err := state.file.load(&old); found && err == nil && old.Binding == bind {
			for _, n := range old.Done {
				if n >= 1 && n <= len(d.Chunks) {
					done[n] = true
				}
			}
		}
		if enc, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600); err != nil {
			return nil, err
		}
		// Locked while in use (closing the file unlocks it): a second
		// download of the same description must not share the partial.
		if err := lockFile(enc); err != nil {
			enc.Close()
			return nil, fmt.Errorf("another download of this file is running in %s", dir)
		}
		if fi, err := enc.Stat(); err != nil || fi.Size() != d.Size {
			clear(done) // not the partial the state describes
		}
	} else if enc, err = os.CreateTemp(dir, ".xftp-download-*.encrypted"); err != nil {
		return nil, err
	}
	keep := false
	defer func() {
		enc.Close()
		if keep {
			return
		}
		if state != nil {
			state.file.remove()
		}
		os.Remove(enc.Name())
	}()
	if err := enc.Truncate(d.Size); err != nil {
		return nil, err
	}
	offs := chunkOffsets(d)
	// Chunks kept from an earlier run are checked again: the partial file
	// is ours, but it sat on disk.
	var resumed int
	for no := range done {
		c := d.Chunks[no-1]
		h := sha256.New()
		if _, err := io.Copy(h, io.NewSectionReader(enc, offs[no-1], c.Size)); err != nil || subtle.ConstantTimeCompare(h.Sum(nil), c.Digest) != 1 {
			delete(done, no)
			continue
		}
		resumed++
	}
	if state != nil {
		for no := range done {
			state.Done = append(state.Done, no)
		}
		slices.Sort(state.Done)
		if err := state.save(); err != nil {
			return nil, err
		}
	}
	var doneBytes atomic.Int64
	for no := range done {
		doneBytes.Add(d.Chunks[no-1].Size)
	}
	var todo []int
	for i := range d.Chunks {
		if !done[i+1] {
			todo = append(todo, i)
		}
	}
	err = forEach(ctx, len(todo), o.Parallel, func(ctx context.Context, k int) error {
		i := todo[k]
		c := d.Chunks[i]
		retryEvent := func(err error) {
			o.emit(Event{Op: "download", Chunk: c.No, Chunks: len(d.Chunks), Bytes: c.Size, Done: doneBytes.Load(), Total: d.Size, Retry: true, Err: err})
		}
		if err := fetchSimplexChunk(ctx, p, o, c, enc, offs[i], retryEvent); err != nil {
			return err
		}
		if state != nil {
			if err := state.mark(c.No); err != nil {
				return err
			}
		}
		n := doneBytes.Add(c.Size)
		o.emit(Event{Op: "download", Chunk: c.No, Chunks: len(d.Chunks), Bytes: c.Size, Done: n, Total: d.Size})
		return nil
	})
	if err != nil {
		if state != nil && doneBytes.Load() > 0 {
			keep = true
			return nil, fmt.Errorf("%w (the verified chunks are kept: run the same download again to continue)", err)
		}
		return nil, err
	}
	out, err := os.CreateTemp(dir, ".xftp-download-*")
	if err != nil {
		return nil, err
	}
	defer func() {
		if out != nil {
			out.Close()
			os.Remove(out.Name())
		}
	}()
	// One pass over the encrypted file: it is hashed as it is decrypted
	// (Decrypt reads all of it, the tag last), and the output, still a
	// temporary file, is discarded unless both verify.
	h := sha512.New()
	bw := bufio.NewWriterSize(out, 256<<10)
	hdr, err := simplex.Decrypt(bw, bufio.NewReaderSize(io.TeeReader(io.NewSectionReader(enc, 0, d.Size), h), 256<<10), d.Size, d.Key, d.Nonce)
	if (err == nil || errors.Is(err, simplex.ErrAuth)) && subtle.ConstantTimeCompare(h.Sum(nil), d.Digest) != 1 {
		return nil, errSimplexFileDigest
	}
	if err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	fi, err := out.Stat()
	if err != nil {
		return nil, err
	}
	if err := syncClose(out); err != nil {
		return nil, err
	}
	path, err := moveIntoPlace(out.Name(), req.Output, dir, hdr.Name, false)
	if err != nil {
		return nil, err
	}
	out = nil
	return &Downloaded{Path: path, Name: hdr.Name, Size: fi.Size()}, nil
}
