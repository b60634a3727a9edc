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
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/api/httpclient"
	"github.com/xftp/xftp/blocklist"
	"github.com/xftp/xftp/chunk"
)

// UploadRequest says what to upload and where. The engine reads the
// content through Source and touches no file: UploadFile is the same
// upload from a file, with resume.
type UploadRequest struct {
	// Source holds the content: Size bytes read through ReadAt (the engine
	// reads each part when it needs it, from several goroutines, and more
	// than once: it must return the same bytes every time).
	Source io.ReaderAt
	Size   int64
	// Name is the file's name in the description's header (what the
	// recipient's file will be called).
	Name string
	// Servers are the relay addresses; chunks are spread across them.
	Servers []string
	// Recipients is the number of recipient descriptions to make (≥ 1).
	// Servers see a padded count (chunk.PaddedRecipients).
	Recipients int
	// DataShards and ParityShards set the Reed-Solomon striping: each
	// stripe of DataShards chunks gets ParityShards parity chunks, and the
	// chunks of a stripe go to different servers. Zero for both picks
	// DefaultShards(len(Servers)).
	DataShards, ParityShards int
}

// Uploaded is the result of an upload.
type Uploaded struct {
	// Recipients holds one description per recipient.
	Recipients []*chunk.Description
	// Sender is the sender's description, which can delete the chunks.
	Sender *chunk.Description
	// Size is the plaintext size; Encrypted the bytes sent (with parity).
	Size, Encrypted int64
	// Chunks and ParityChunks count what was stored.
	Chunks, ParityChunks int
	Erasure              chunk.ErasureParams
	Servers              int
	// Resumed counts chunks that an earlier, interrupted run had sent
	// (UploadFile with a StateFile; the engine alone does not resume).
	Resumed int
	// StartedOver says why an earlier run's state could not be continued
	// (it was for other servers, say) and the upload started over; empty
	// when there was no such state or it was continued. What the earlier
	// run stored expires on the servers.
	StartedOver string
	Elapsed     time.Duration
}

// DefaultShards is the striping used when the request names none: no
// parity with one server, mirroring with two, one parity chunk per stripe
// with three to five, and 4+2 with six or more.
func DefaultShards(servers int) (data, parity int) {
	switch {
	case servers >= 6:
		return 4, 2
	case servers >= 3:
		return servers - 1, 1
	case servers == 2:
		return 1, 1
	}
	return 1, 0
}

// Upload encrypts and uploads req.Source, returning its descriptions.
// Every chunk gets a fresh sender key and fresh keys per recipient, so
// nothing links one chunk's IDs to another's on the servers; parity chunks
// have the sizes of data chunks and are sent with the same requests, so
// servers cannot tell them apart. It touches no local file unless Options
// name local state (Restrictions, Sent).
func Upload(ctx context.Context, req UploadRequest, o Options) (*Uploaded, error) {
	return upload(ctx, req, o, uploadResume{})
}

// uploadResume is where the file front end keeps an upload's resume state
// (UploadFile); the zero value keeps it in memory only.
type uploadResume struct {
	// path of the state file; label names the source in messages;
	// modTime stands for the content's identity across runs.
	path    string
	label   string
	modTime time.Time
}

func upload(ctx context.Context, req UploadRequest, o Options, resume uploadResume) (_ *Uploaded, err error) {
	o.defaults()
	defer func() { o.restrict(err) }() // only a block that stopped the upload restricts
	start := time.Now()
	if len(req.Servers) == 0 {
		return nil, errors.New("no server given")
	}
	if req.Recipients < 1 || req.Recipients > 1000 {
		return nil, fmt.Errorf("recipients: %d is not between 1 and 1000", req.Recipients)
	}
	if req.DataShards == 0 && req.ParityShards == 0 {
		req.DataShards, req.ParityShards = DefaultShards(len(req.Servers))
	}
	erasure, err := chunk.NewErasure(req.DataShards, req.ParityShards)
	if err != nil {
		return nil, err
	}
	if req.ParityShards > 0 && req.DataShards+req.ParityShards > len(req.Servers) {
		return nil, fmt.Errorf("%d+%d striping puts each stripe's %d chunks on different servers, but only %d server(s) were given",
			req.DataShards, req.ParityShards, req.DataShards+req.ParityShards, len(req.Servers))
	}
	p := newPool(o.ClientOptions)
	defer p.close()
	seen := map[string]bool{}
	for _, s := range req.Servers {
		c, err := p.get(s)
		if err != nil {
			return nil, err
		}
		// The same server twice would give redundancy in name only.
		fp := c.Address().Fingerprint.String() + "@" + c.Address().Host
		if seen[fp] {
			return nil, fmt.Errorf("server %s is given twice", redact(s))
		}
		seen[fp] = true
	}
	o.unproven = &unprovenServers{}
	o.unproven.add(req.Servers...)
	o.checkEarlierUploads(ctx, req.Servers) // sent.go: may learn restrictions
	if err := o.checkServers(req.Servers, blocklist.RestrictNoUploads); err != nil {
		return nil, err
	}
	if req.Source == nil {
		return nil, errors.New("no source given")
	}
	if err := p.reach(ctx, &o, req.Servers); err != nil {
		return nil, err
	}
	if resume.label == "" {
		resume.label = req.Name
	}
	src, size := req.Source, req.Size
	want := &uploadState{Version: stateVersion, Name: req.Name, Size: size, ModTime: resume.modTime.UnixNano(),
		Servers: req.Servers, Recipients: req.Recipients, Data: req.DataShards, Parity: req.ParityShards}
	st, startedOver, err := openUploadState(resume.path, want)
	if err != nil {
		return nil, err
	}
	sealer, err := chunk.NewSealer(st.st.Key, want.Name, src, size)
	if err != nil {
		return nil, err
	}
	u := &uploader{req: req, source: resume.label, o: &o, pool: p, sealer: sealer, erasure: erasure, state: st,
		sizes: sealer.ChunkSizes()}
	u.stripes = erasure.Stripes(u.sizes)
	if err := u.prepare(ctx); err != nil {
		return nil, err
	}
	err = u.run(ctx)
	if serr := st.save(true); err == nil {
		err = serr
	}
	if err != nil {
		return nil, err
	}
	out := u.result()
	out.StartedOver = startedOver
	out.Size = size
	out.Elapsed = time.Since(start)
	o.rememberUpload(out.Sender) // sent.go
	return out, nil
}

// openUploadState continues the state at path if it belongs to this upload,
// or starts a new one. A state for another upload of the file (other
// servers after a failed attempt, say) is replaced, and startedOver says
// why: a corrected retry must just work.
func openUploadState(path string, want *uploadState) (sf *stateFile, startedOver string, err error) {
	sf = &stateFile{file: uploadStateFile(path, want), interval: 200 * time.Millisecond}
	if path != "" {
		old, err := loadState(sf.file)
		switch {
		case errors.Is(err, errUnreadableState):
			startedOver = "the interrupted upload's state was unreadable"
		case err != nil:
			return nil, "", err
		case old != nil:
			if startedOver = old.mismatch(want); startedOver == "" {
				sf.st = old
				return sf, "", nil
			}
		}
	}
	key, err := chunk.NewKey()
	if err != nil {
		return nil, "", err
	}
	want.Key = key
	sf.st = want
	return sf, startedOver, nil
}

type uploader struct {
	req     UploadRequest
	source  string // names the source in messages
	o       *Options
	pool    *pool
	sealer  *chunk.Sealer
	erasure *chunk.Erasure
	state   *stateFile
	sizes   []int64
	stripes []chunk.Stripe
	parity  []*stripeParity // per stripe, computed on demand
	total   int64
	done    atomic.Int64
	resumed int
}

// stripeParity holds one stripe's parity chunks while they are uploaded.
type stripeParity struct {
	once    sync.Once
	err     error
	bufs    [][]byte
	pending atomic.Int32 // parity chunks still to upload; at 0 bufs are freed
}

// item is one chunk to upload: data chunk i < n, or parity chunk i-n.
func (u *uploader) isParity(i int) bool { return i >= len(u.sizes) }

func (u *uploader) size(i int) int64 {
	if u.isParity(i) {
		return u.stripes[(i-len(u.sizes))/u.erasure.ParityShards()].ShardSize
	}
	return u.sizes[i]
}

// prepare computes data digests, assigns servers and fresh keys to chunks
// not yet known from an earlier run, and checks that the file is unchanged.
func (u *uploader) prepare(ctx context.Context) error {
	digests, err := u.sealer.Digests(ctx)
	if err != nil {
		return fmt.Errorf("reading %s: %w", u.source, err)
	}
	n := len(u.sizes) + len(u.stripes)*u.erasure.ParityShards()
	u.parity = make([]*stripeParity, len(u.stripes))
	for s := range u.parity {
		u.parity[s] = &stripeParity{}
	}
	var err2 error
	u.state.update(func(st *uploadState) {
		if len(st.Items) != 0 && len(st.Items) != n {
			err2 = fmt.Errorf("resume state does not fit the file; remove %s to start over", u.state.file.path)
			return
		}
		if len(st.Items) == 0 {
			st.Items = make([]itemState, n)
			u.assignServers(st.Items)
		}
		for i, d := range digests {
			if st.Items[i].Digest != nil && !bytes.Equal(st.Items[i].Digest, d[:]) {
				err2 = fmt.Errorf("%s changed since the interrupted upload; remove %s to start over", u.source, u.state.file.path)
				return
			}
			st.Items[i].Digest = bytes.Clone(d[:])
		}
		padded := chunk.PaddedRecipients(u.req.Recipients)
		// Chunks of an earlier run that expire within the hour are made
		// again from scratch: descriptions must not point at chunks that
		// are gone or about to go.
		soon := time.Now().Add(time.Hour).Unix()
		for i := range st.Items {
			it := &st.Items[i]
			if it.ExpiresAt != 0 && it.ExpiresAt < soon {
				*it = itemState{Server: it.Server, Digest: it.Digest}
			}
			if len(it.Sender) == 0 {
				it.Sender = newSeed()
				it.Recipients = make([][]byte, padded)
				for r := range it.Recipients {
					it.Recipients[r] = newSeed()
				}
			}
			if it.Uploaded {
				u.resumed++
				u.done.Add(u.size(i))
			}
			u.total += u.size(i)
		}
	})
	return err2
}

func newSeed() []byte {
	b := make([]byte, ed25519.SeedSize)
	rand.Read(b)
	return b
}

// assignServers spreads chunks over servers from a random start; the chunks
// of one stripe (data and parity) land on different servers.
func (u *uploader) assignServers(items []itemState) {
	servers := u.req.Servers
	first := mrand.N(len(servers))
	m := u.erasure.ParityShards()
	if m == 0 {
		for i := range items {
			items[i].Server = servers[(first+i)%len(servers)]
		}
		return
	}
	for _, st := range u.stripes {
		// Rotating by one per stripe spreads parity over all servers.
		base := first + st.Index
		for j, i := range st.Data {
			items[i].Server = servers[(base+j)%len(servers)]
		}
		for j, pi := range st.Parity {
			items[len(u.sizes)+pi].Server = servers[(base+u.erasure.DataShards()+j)%len(servers)]
		}
	}
}

// run uploads every chunk not yet uploaded, stripe by stripe, so that at
// most a few stripes' parity chunks are in memory at once.
func (u *uploader) run(ctx context.Context) error {
	var order []int
	for _, st := range u.stripes {
		order = append(order, st.Data...)
		for _, pi := range st.Parity {
			order = append(order, len(u.sizes)+pi)
		}
	}
	var items []itemState
	u.state.update(func(st *uploadState) { items = st.Items })
	for _, st := range u.stripes {
		n := 0
		for _, pi := range st.Parity {
			if !items[len(u.sizes)+pi].Uploaded {
				n++
			}
		}
		u.parity[st.Index].pending.Store(int32(n))
	}
	return forEach(ctx, len(order), u.o.Parallel, func(ctx context.Context, k int) error {
		return u.one(ctx, order[k])
	})
}

// body returns a fresh reader of chunk i's bytes.
func (u *uploader) body(i int) (io.Reader, error) {
	if !u.isParity(i) {
		return u.sealer.Chunk(i), nil
	}
	pi := i - len(u.sizes)
	m := u.erasure.ParityShards()
	sp := u.parity[pi/m]
	sp.once.Do(func() { sp.bufs, sp.err = u.computeParity(u.stripes[pi/m]) })
	if sp.err != nil {
		return nil, sp.err
	}
	return bytes.NewReader(sp.bufs[pi%m]), nil
}

// computeParity streams a stripe's data chunks through the Reed-Solomon
// encoder into memory (M chunks of the stripe's shard size).
func (u *uploader) computeParity(st chunk.Stripe) ([][]byte, error) {
	readers := make([]io.Reader, len(st.Data))
	for j, i := range st.Data {
		readers[j] = u.sealer.Chunk(i)
	}
	m := u.erasure.ParityShards()
	buffers := make([]*bytes.Buffer, m)
	writers := make([]io.Writer, m)
	for j := range buffers {
		buffers[j] = bytes.NewBuffer(make([]byte, 0, st.ShardSize))
		writers[j] = buffers[j]
	}
	if err := u.erasure.EncodeStripe(readers, st.Sizes, st.ShardSize, writers); err != nil {
		return nil, fmt.Errorf("computing parity of stripe %d: %w", st.Index+1, err)
	}
	bufs := make([][]byte, m)
	for j, b := range buffers {
		bufs[j] = b.Bytes()
		if err := chunk.MaskParity(u.key(), st.Index, j, bufs[j]); err != nil {
			return nil, err
		}
	}
	return bufs, nil
}

// key is the file key.
func (u *uploader) key() []byte {
	var k []byte
	u.state.update(func(st *uploadState) { k = st.Key })
	return k
}

// label numbers chunks for messages: data chunks first, then parity.
func (u *uploader) label(i int) (no, of int) {
	return i + 1, len(u.sizes) + len(u.parity)*u.erasure.ParityShards()
}

// one creates (if needed) and uploads chunk i, saving progress after each.
func (u *uploader) one(ctx context.Context, i int) error {
	var it itemState
	u.state.update(func(st *uploadState) { it = st.Items[i] })
	no, of := u.label(i)
	size := u.size(i)
	if it.Uploaded {
		return nil
	}
	c, err := u.pool.get(it.Server)
	if err != nil {
		return err
	}
	onRetry := func(err error) {
		u.o.emit(Event{Op: "upload", Chunk: no, Chunks: of, Bytes: size, Retry: true, Err: err})
	}
	if u.isParity(i) && it.Digest == nil {
		r, err := u.body(i)
		if err != nil {
			return err
		}
		h := sha256.New()
		io.Copy(h, r)
		it.Digest = h.Sum(nil)
	}
	var digest [32]byte
	copy(digest[:], it.Digest)
	sender := it.senderKey()
	pubs := make([]ed25519.PublicKey, len(it.Recipients))
	for r, seed := range it.Recipients {
		pubs[r] = ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	}
	// create runs a create with retries. Retries reuse the sender key, so
	// the server answers a retry of a lost answer with the chunk it made.
	// If the key names a chunk asked for differently (a resumed upload
	// whose first attempt got further, say), a new key is made once.
	create := func(op func() error) error {
		err := retry(ctx, u.o.retries(it.Server), op, onRetry)
		if errors.Is(err, api.ErrKeyInUse) {
			it.Sender = newSeed()
			sender = it.senderKey()
			u.state.update(func(st *uploadState) { st.Items[i].Sender = it.Sender })
			err = retry(ctx, u.o.retries(it.Server), op, onRetry)
		}
		return err
	}
	if !it.created() && len(pubs) <= maxKeysPerRequest {
		// Create and upload in one request where the server offers it:
		// one round trip and one signature per chunk instead of two.
		err = create(func() error {
			r, err := u.body(i)
			if err != nil {
				return err
			}
			created, err := c.CreateUploaded(ctx, sender, size, digest, pubs, r)
			if err != nil {
				return err
			}
			it.setCreated(created)
			return nil
		})
		if be := u.o.blocked(err, it.Server, "upload", no, of); be != nil {
			return be
		}
		switch {
		case err == nil:
			return u.uploaded(i, it, no, of, size)
		case !errors.Is(err, httpclient.ErrOneStep):
			return fmt.Errorf("chunk %d: uploading to %s: %w", no, redact(it.Server), err)
		}
	}
	if !it.created() {
		// A request carries at most maxKeysPerRequest recipient keys; more
		// are added in batches.
		first := pubs[:min(len(pubs), maxKeysPerRequest)]
		err = create(func() error {
			created, err := c.Create(ctx, sender, size, digest, first)
			if err != nil {
				return err
			}
			it.setCreated(created)
			return nil
		})
		for rest := pubs[len(first):]; err == nil && len(rest) > 0; {
			batch := rest[:min(len(rest), maxKeysPerRequest)]
			err = retry(ctx, u.o.retries(it.Server), func() error {
				ids, err := c.AddRecipients(ctx, it.SenderID, sender, batch)
				if err == nil {
					it.RecipientIDs = append(it.RecipientIDs, ids...)
				}
				return err
			}, onRetry)
			rest = rest[len(batch):]
		}
		if be := u.o.blocked(err, it.Server, "upload", no, of); be != nil {
			return be
		}
		if err != nil {
			return fmt.Errorf("chunk %d: creating on %s: %w", no, redact(it.Server), err)
		}
		u.state.update(func(st *uploadState) { st.Items[i] = it })
	}
	err = retry(ctx, u.o.retries(it.Server), func() error {
		r, err := u.body(i)
		if err != nil {
			return err
		}
		return c.Upload(ctx, it.SenderID, sender, r, size)
	}, onRetry)
	if be := u.o.blocked(err, it.Server, "upload", no, of); be != nil {
		return be
	}
	if err != nil {
		return fmt.Errorf("chunk %d: uploading to %s: %w", no, redact(it.Server), err)
	}
	return u.uploaded(i, it, no, of, size)
}

// uploaded records that item i is stored on its server.
func (u *uploader) uploaded(i int, it itemState, no, of int, size int64) error {
	it.Uploaded = true
	u.state.update(func(st *uploadState) { st.Items[i] = it })
	if u.isParity(i) {
		sp := u.parity[(i-len(u.sizes))/u.erasure.ParityShards()]
		if sp.pending.Add(-1) == 0 {
			sp.bufs = nil // the stripe's parity is sent: free it
		}
	}
	if err := u.state.save(false); err != nil {
		return err
	}
	u.o.emit(Event{Op: "upload", Chunk: no, Chunks: of, Bytes: size, Done: u.done.Add(size), Total: u.total})
	return nil
}

// result builds the descriptions from the final state.
func (u *uploader) result() *Uploaded {
	var st *uploadState
	u.state.update(func(s *uploadState) { st = s })
	m := u.erasure.ParityShards()
	out := &Uploaded{Chunks: len(u.sizes), ParityChunks: len(u.stripes) * m, Resumed: u.resumed,
		Servers: len(u.req.Servers)}
	if m > 0 {
		out.Erasure = chunk.ErasureParams{Data: u.erasure.DataShards(), Parity: m}
	}
	for i := range st.Items {
		out.Encrypted += u.size(i)
	}
	out.Sender = u.describe(st, chunk.PartySender, func(it *itemState) ([]byte, ed25519.PrivateKey) {
		return it.SenderID, it.senderKey()
	})
	for r := 0; r < u.req.Recipients; r++ {
		out.Recipients = append(out.Recipients, u.describe(st, chunk.PartyRecipient, func(it *itemState) ([]byte, ed25519.PrivateKey) {
			return it.RecipientIDs[r], ed25519.NewKeyFromSeed(it.Recipients[r])
		}))
	}
	return out
}

func (u *uploader) describe(st *uploadState, party chunk.Party, pick func(*itemState) ([]byte, ed25519.PrivateKey)) *chunk.Description {
	d := &chunk.Description{Version: chunk.DescriptionVersion, Party: party, Key: st.Key}
	ref := func(i, number int) chunk.ChunkRef {
		it := &st.Items[i]
		id, k := pick(it)
		var digest [32]byte
		copy(digest[:], it.Digest)
		return chunk.ChunkRef{Number: number, Size: u.size(i), Digest: digest,
			Replicas: []chunk.Replica{{Server: publicAddress(it.Server), ID: id, Key: k}}}
	}
	for i := range u.sizes {
		d.Size += u.sizes[i]
		d.Chunks = append(d.Chunks, ref(i, i+1))
	}
	if m := u.erasure.ParityShards(); m > 0 {
		d.Erasure = chunk.ErasureParams{Data: u.erasure.DataShards(), Parity: m}
		for p := 0; p < len(u.stripes)*m; p++ {
			d.Parity = append(d.Parity, ref(len(u.sizes)+p, p+1))
		}
	}
	return d
}

// maxKeysPerRequest is the servers' limit of recipient keys per request.
const maxKeysPerRequest = 200

// publicAddress is a server address without its upload password: the
// password lets its holder upload, and descriptions travel to recipients.
func publicAddress(server string) string {
	a, err := api.ParseAddress(server)
	if err != nil {
		return server
	}
	return a.Redacted()
}

func (o *Options) emit(e Event) {
	if o.Progress != nil {
		o.Progress(e)
	}
}
