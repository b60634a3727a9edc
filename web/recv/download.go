package recv

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/blocklist"
	"github.com/xftp/xftp/chunk"
	"github.com/xftp/xftp/internal/dlcrypt"
	"github.com/xftp/xftp/internal/stream"
)

// Request is a signed download request for the page to send with fetch():
// POST URL with the header Xftp-Auth: Auth and the JSON Body.
type Request struct {
	URL  string `json:"url"`
	Auth string `json:"auth"`
	Body string `json:"body"`
}

// Download is one chunk being fetched from one replica. The page starts it
// with the response headers, writes the response body to it as it arrives
// and closes it at the end of the body.
type Download struct {
	s       *Session
	i       int
	ref     chunk.ChunkRef
	rep     chunk.Replica
	srv     server
	key     *dlcrypt.ClientKey
	started bool

	in    chan []byte   // body pieces for the opening goroutine
	want  chan struct{} // the goroutine has used every piece and wants more
	done  chan error    // the goroutine's result
	ready bool          // a want was received and no piece sent since
	end   bool          // the result was received
	err   error
}

// ErrTransport means the transport encryption of a download failed: the
// relay or something on the path changed the bytes, or the stream was cut.
var ErrTransport = errors.New("download stream failed authentication")

// NewDownload prepares the request for data chunk i (0-based) from its
// replica r, signed by that replica's recipient key with a fresh
// ephemeral X25519 key. The relay's identity must have been verified.
func (s *Session) NewDownload(i, r int) (*Download, Request, error) {
	if i < 0 || i >= len(s.d.Chunks) || r < 0 || r >= len(s.d.Chunks[i].Replicas) {
		return nil, Request{}, fmt.Errorf("no chunk %d replica %d", i+1, r+1)
	}
	ref := s.d.Chunks[i]
	rep := ref.Replicas[r]
	srv := s.servers[rep.Server]
	if s.identity(rep.Server) == nil {
		return nil, Request{}, fmt.Errorf("server %s: identity not verified", srv.host)
	}
	key, err := dlcrypt.NewClientKey()
	if err != nil {
		return nil, Request{}, err
	}
	body, _ := json.Marshal(struct {
		Key string `json:"key"`
	}{b64.EncodeToString(key.Public())})
	path := "/v1/chunks/" + b64.EncodeToString(rep.ID) + "/download"
	auth := api.Sign(rep.Key, srv.fingerprint, "POST", path, api.BodyHash(body), s.clock()).String()
	d := &Download{s: s, i: i, ref: ref, rep: rep, srv: srv, key: key}
	return d, Request{URL: srv.origin() + path, Auth: auth, Body: string(body)}, nil
}

// Start checks the headers of a 200 answer: the relay's ephemeral key
// (Xftp-Server-Key) must be signed by its verified identity
// (Xftp-Key-Signature), so no proxy or CDN in between can substitute its
// own, and Content-Length must be the sealed size of the chunk. Then it
// starts opening the chunk.
func (d *Download) Start(serverKey, keySignature string, contentLength int64) error {
	if d.started {
		return errors.New("download already started")
	}
	pub := d.s.identity(d.rep.Server)
	sk, err1 := b64.DecodeString(serverKey)
	sig, err2 := b64.DecodeString(keySignature)
	if err1 != nil || err2 != nil || !ed25519.Verify(pub, dlcrypt.KeyMessage(sk, d.key.Public()), sig) {
		return fmt.Errorf("server %s: %w: its download key is not signed by its identity", d.srv.host, ErrTransport)
	}
	ci, err := d.key.Cipher(sk)
	if err != nil {
		return fmt.Errorf("server %s: %w: %v", d.srv.host, ErrTransport, err)
	}
	if want := ci.CiphertextSize(d.ref.Size); contentLength != want {
		return fmt.Errorf("server %s: %w: it sends %d bytes, want %d", d.srv.host, ErrTransport, contentLength, want)
	}
	d.started = true
	d.in, d.want, d.done = make(chan []byte), make(chan struct{}), make(chan error, 1)
	body := &lengthCheck{r: stream.NewReader(ci, &feed{in: d.in, want: d.want}), left: d.ref.Size}
	go func() { d.done <- d.s.opener.OpenChunk(d.i, d.ref.Digest, body) }()
	return nil
}

// await waits until the opening goroutine wants more input or is done.
func (d *Download) await() {
	if d.ready || d.end {
		return
	}
	select {
	case <-d.want:
		d.ready = true
	case d.err = <-d.done:
		d.end = true
	}
}

// Write passes a piece of the response body on. When it returns, every
// whole segment received so far has been opened and its plaintext is
// waiting in TakeWrites. An error ends the download.
func (d *Download) Write(p []byte) (int, error) {
	if !d.started {
		return 0, errors.New("download not started")
	}
	d.await()
	if d.end {
		return 0, d.result()
	}
	d.in <- append([]byte(nil), p...)
	d.ready = false
	d.await()
	if d.end && d.err != nil {
		return 0, d.result()
	}
	return len(p), nil
}

// Close ends the body and returns the verdict on the whole chunk: nil once
// it was complete, had its digest and decrypted.
func (d *Download) Close() error {
	if !d.started {
		return errors.New("download not started")
	}
	d.await()
	if !d.end {
		close(d.in)
		d.err = <-d.done
		d.end = true
	}
	return d.result()
}

// Abort ends a download that the page gave up on (the fetch failed).
func (d *Download) Abort() {
	if d.started && !d.end {
		d.Close()
	}
}

func (d *Download) result() error {
	switch {
	case d.err == nil:
		return nil
	case errors.Is(d.err, ErrTransport), errors.Is(d.err, stream.ErrAuth):
		return fmt.Errorf("chunk %d from %s: %w", d.i+1, d.srv.host, ErrTransport)
	}
	return fmt.Errorf("chunk %d from %s: %w", d.i+1, d.srv.host, d.err)
}

// feed is the opening goroutine's view of the body: it asks for a piece
// (want) only after it used the previous one, which lets Write return
// only when everything it passed on has been processed.
type feed struct {
	in   chan []byte
	want chan struct{}
	buf  []byte
	eof  bool
}

func (f *feed) Read(p []byte) (int, error) {
	for len(f.buf) == 0 {
		if f.eof {
			return 0, io.EOF
		}
		f.want <- struct{}{}
		b, ok := <-f.in
		if !ok {
			f.eof = true
		}
		f.buf = b
	}
	n := copy(p, f.buf)
	f.buf = f.buf[n:]
	return n, nil
}

// lengthCheck turns a transport stream of the wrong length, or one that
// fails authentication, into ErrTransport (as httpclient.Client.Download does).
type lengthCheck struct {
	r    io.Reader
	left int64
}

func (l *lengthCheck) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.left -= int64(n)
	switch {
	case errors.Is(err, stream.ErrAuth):
		return n, ErrTransport
	case err == io.EOF && l.left != 0, l.left < 0:
		return n, fmt.Errorf("%w: wrong length", ErrTransport)
	}
	return n, err
}

// ErrInvalidBlockingRecord means a relay answered 451 without a record
// that verifies; it is an error of that relay, not a block.
var ErrInvalidBlockingRecord = errors.New("invalid blocking record")

// Blocked verifies the body of a 451 answer to d's request. It returns
// *blocklist.BlockedError if the record is signed by the pinned identity
// for the ID requested, and an error wrapping ErrInvalidBlockingRecord
// otherwise.
func (d *Download) Blocked(body []byte) error {
	var br struct {
		Error  string `json:"error"`
		Record string `json:"record"`
	}
	if json.Unmarshal(body, &br) != nil || br.Error != api.CodeBlocked {
		return fmt.Errorf("server %s: %w: malformed answer", d.srv.host, ErrInvalidBlockingRecord)
	}
	raw, err := b64.DecodeString(br.Record)
	if err != nil || len(raw) == 0 {
		return fmt.Errorf("server %s: %w: no record", d.srv.host, ErrInvalidBlockingRecord)
	}
	rec, err := blocklist.Verify(raw, d.srv.fingerprint, d.rep.ID)
	if err != nil {
		return fmt.Errorf("server %s: %w: %w", d.srv.host, ErrInvalidBlockingRecord, err)
	}
	return &blocklist.BlockedError{Record: rec}
}

// Host is the relay's host:port, for messages.
func (d *Download) Host() string { return d.srv.host }

// DescribeRefusal turns an error answer (status and JSON body) into a
// sentence for the page.
func DescribeRefusal(host string, status int, body []byte) string {
	var er struct {
		Error string `json:"error"`
	}
	json.Unmarshal(body, &er)
	switch er.Error {
	case api.CodeAuth:
		return fmt.Sprintf("server %s does not have this chunk any more: it expired, was deleted by its sender, or was already received with this link", host)
	case api.CodeNoChunk:
		return fmt.Sprintf("server %s has not received this chunk (the upload did not finish)", host)
	case api.CodeClock:
		return fmt.Sprintf("server %s refused the request because this computer's clock is wrong", host)
	case api.CodeCorrupt:
		return fmt.Sprintf("server %s holds a damaged copy of this chunk", host)
	case api.CodeRate:
		return fmt.Sprintf("server %s is rate-limiting this network; try again in a minute", host)
	case "":
		if status == 429 {
			return fmt.Sprintf("server %s is rate-limiting this network; try again in a minute", host)
		}
		return fmt.Sprintf("server %s answered HTTP %d", host, status)
	}
	if c, ok := api.LookupCode(er.Error); ok && c.Temporary {
		return fmt.Sprintf("server %s cannot serve the chunk now (%s); try again later", host, er.Error)
	}
	return fmt.Sprintf("server %s answered %d %s", host, status, er.Error)
}
