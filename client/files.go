package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/xftp/xftp/chunk"
)

// The file front end: uploads from and downloads into files, on top of
// the engine's io.ReaderAt and io.WriterAt (Upload, Download). It owns
// what involves the file system: opening, temporary names renamed into
// place, never overwriting, locks, and the resume state kept next to the
// files (state.go, partial.go), through the one state-file helper
// (localstate.go).

// UploadFileRequest says what file to upload and where: Upload's request
// with a path instead of a reader, and resume.
type UploadFileRequest struct {
	// Path is the file to send; its base name goes in the description.
	Path string
	// Servers, Recipients, DataShards and ParityShards are as in
	// UploadRequest.
	Servers                  []string
	Recipients               int
	DataShards, ParityShards int
	// StateFile, if set, keeps the upload's progress so that running the
	// same upload again after an interruption continues where it stopped
	// (no chunk that reached its server is sent again); the file's size
	// and modification time tell whether it is still the same. The caller
	// removes it once the descriptions are stored (RemoveState).
	StateFile string
}

// UploadFile encrypts and uploads the file at req.Path (see Upload).
func UploadFile(ctx context.Context, req UploadFileRequest, o Options) (*Uploaded, error) {
	f, fi, err := openRegular(req.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return upload(ctx, UploadRequest{Source: f, Size: fi.Size(), Name: filepath.Base(req.Path),
		Servers: req.Servers, Recipients: req.Recipients, DataShards: req.DataShards, ParityShards: req.ParityShards},
		o, uploadResume{path: req.StateFile, label: req.Path, modTime: fi.ModTime()})
}

// openRegular opens the regular file at path for reading.
func openRegular(path string) (*os.File, os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file", path)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// RemoveState deletes an upload's resume state.
func RemoveState(path string) error {
	if path == "" {
		return nil
	}
	return localFile{path: path}.remove()
}

// DownloadFileRequest says what to download and into which file.
type DownloadFileRequest struct {
	// Description is a recipient's description (a redirect is followed).
	Description *chunk.Description
	// Output is the file to write. If empty, the file's own name is used
	// in Dir (never overwriting: a numbered name is chosen instead).
	Output string
	// Dir is where a file without Output goes (default ".").
	Dir string
	// Keep is as in DownloadRequest.
	Keep bool
	// Resume keeps a failed or interrupted download's verified part next to
	// the output (a hidden .xftp-*.partial file and its .state) and
	// continues from it when the same description is downloaded again.
	Resume bool
	// NoClobber fails instead of replacing an existing Output.
	NoClobber bool
}

// DownloadFile fetches, verifies and decrypts a file into a file (see
// Download). The output appears only when complete and verified: data is
// written to a temporary file in the target directory, synced, and
// renamed into place. Like the temporary file, the output is readable by
// its owner only (mode 0600).
func DownloadFile(ctx context.Context, req DownloadFileRequest, o Options) (*Downloaded, error) {
	dir := outputDir(req.Output, req.Dir)
	return downloadWith(ctx, req.Description, req.Keep, o, func(ctx context.Context, d *chunk.Description, o *Options, p *pool) (*Downloaded, error) {
		return fetchToFile(ctx, d, req, dir, o, p)
	})
}

// fetchToFile is DownloadFile's fetch: into a temporary or partial file in
// dir, renamed into place once verified.
func fetchToFile(ctx context.Context, d *chunk.Description, req DownloadFileRequest, dir string, o *Options, p *pool) (res *Downloaded, err error) {
	var tmp *os.File
	var prog *downloadProgress
	if req.Resume {
		tmp, prog, err = openPartial(dir, d)
	} else {
		tmp, err = os.CreateTemp(dir, ".xftp-download-*")
	}
	if err != nil {
		return nil, err
	}
	defer func() {
		if err == nil {
			return
		}
		if prog != nil && prog.any() && resumable(err) {
			if serr := prog.save(true); serr == nil {
				err = fmt.Errorf("%w (the verified part is kept: run the same download again to continue)", err)
				prog.unlock()
				tmp.Close()
				return
			}
		}
		// The state goes first: a state without its partial is ignored,
		// a partial without its state is started over.
		prog.remove()
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	var log chunkLog
	if prog != nil {
		log = prog
	}
	res, err = fetchInto(ctx, d, o, p, tmp, log, func(hdr chunk.Header) (int, error) {
		if err := tmp.Truncate(hdr.Size); err != nil {
			return 0, err
		}
		// Chunks taken from a partial file were verified when they were
		// fetched, by an earlier run: check them again before the file is
		// used, and fetch again any that changed since.
		bad, err := prog.verifyRestored(d, hdr, tmp)
		if err != nil {
			return 0, fmt.Errorf("checking the resumed part: %w", err)
		}
		if len(bad) > 0 {
			o.warn(fmt.Sprintf("%d chunk(s) of the partial download no longer match the description; fetching them again", len(bad)))
		}
		return len(bad), nil
	})
	if err != nil {
		return nil, err
	}
	if err := syncClose(tmp); err != nil {
		return nil, err
	}
	prog.remove()
	if res.Path, err = moveIntoPlace(tmp.Name(), req.Output, dir, res.Name, req.NoClobber); err != nil {
		return nil, err
	}
	return res, nil
}

// outputDir is where a download's temporary files go: next to output if
// one is named (so that it can be renamed into place), else in dir
// (default ".").
func outputDir(output, dir string) string {
	if output != "" {
		return filepath.Dir(output)
	}
	if dir == "" {
		return "."
	}
	return dir
}

// syncClose flushes f to disk and closes it: a file is synced before it is
// renamed into place, so the new name never points at unwritten data.
func syncClose(f *os.File) error {
	err := f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// moveIntoPlace renames the finished temporary file tmp to output, or, if
// output is empty, to a free name in dir for the sender's name (never
// overwriting); noClobber refuses to replace an existing output.
func moveIntoPlace(tmp, output, dir, name string, noClobber bool) (string, error) {
	if output == "" {
		var err error
		if output, err = freeName(dir, name); err != nil {
			return "", err
		}
		noClobber = true
	}
	if noClobber {
		// Link rather than rename: it fails instead of overwriting a file
		// that appeared meanwhile.
		if err := os.Link(tmp, output); err != nil {
			return "", err
		}
		os.Remove(tmp)
		return output, nil
	}
	return output, os.Rename(tmp, output)
}

// safeName makes a sender-chosen file name harmless to create and show:
// no control or format characters (bidi overrides make "evil\u202egpj.exe"
// show as "evilexe.jpg"; zero-width characters hide), no leading dot
// (hidden files), not empty.
func safeName(name string) string {
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '/' || r == '\\' || r == utf8.RuneError {
			return '_'
		}
		return r
	}, filepath.Base(name))
	name = strings.TrimLeft(name, ".")
	if name == "" {
		name = "xftp-file"
	}
	return name
}

// freeName returns a path in dir for name that does not exist yet.
func freeName(dir, name string) (string, error) {
	name = safeName(name)
	ext := filepath.Ext(name)
	base := name[:len(name)-len(ext)]
	for i := 0; i < 1000; i++ {
		cand := name
		if i > 0 {
			cand = fmt.Sprintf("%s (%d)%s", base, i, ext)
		}
		p := filepath.Join(dir, cand)
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			return p, nil
		}
	}
	return "", fmt.Errorf("no free file name for %q in %s", name, dir)
}
