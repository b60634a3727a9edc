package client

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/blocklist"
	"github.com/xftp/xftp/chunk"
)

// SentIndex remembers the sender descriptions of this client's recent
// uploads, so that a later upload can first ask the servers it is about
// to use whether an earlier file there was blocked, and apply the
// operator's restrictions before sending anything (see
// Options.CheckEarlierUploads, off by default for what it reveals). It is
// a JSON file, mode 0600, replaced atomically like the restriction store,
// and holds at most MaxSent entries no older than MaxSentAge. The
// descriptions are secrets: they can delete the files.
type SentIndex struct {
	path string
	now  func() time.Time
	mu   sync.Mutex
}

// Bounds of the sent index.
const (
	MaxSent    = 64
	MaxSentAge = 7 * 24 * time.Hour
	// statusCheckTimeout bounds the opportunistic check before an upload.
	statusCheckTimeout = 3 * time.Second
	// maxChecked bounds the earlier uploads checked before one upload.
	maxChecked = 16
)

type sentEntry struct {
	Sender     string    `json:"sender"` // the sender description (YAML)
	UploadedAt time.Time `json:"uploaded_at"`
}

type sentFile struct {
	Version int         `json:"version"`
	Uploads []sentEntry `json:"uploads"`
}

// DefaultSentPath is sent.json next to the restriction store.
func DefaultSentPath() (string, error) {
	p, err := DefaultRestrictionsPath()
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(p), "sent.json"), nil
}

// OpenSentIndex returns the index in the file at path (created on the
// first upload); now defaults to time.Now.
func OpenSentIndex(path string, now func() time.Time) *SentIndex {
	if now == nil {
		now = time.Now
	}
	return &SentIndex{path: path, now: now}
}

func (s *SentIndex) load() ([]sentEntry, error) {
	var f sentFile
	if _, err := (localFile{path: s.path, version: 1}).load(&f); errors.Is(err, errDamagedState) {
		return nil, fmt.Errorf("sent index %s is damaged; remove it", s.path)
	} else if err != nil {
		return nil, err
	}
	now := s.now()
	return slices.DeleteFunc(f.Uploads, func(e sentEntry) bool { return now.Sub(e.UploadedAt) > MaxSentAge }), nil
}

func (s *SentIndex) save(es []sentEntry) error {
	if len(es) > MaxSent {
		es = es[len(es)-MaxSent:]
	}
	if es == nil {
		es = []sentEntry{}
	}
	return (localFile{path: s.path, version: 1}).save(sentFile{Version: 1, Uploads: es})
}

// Remember adds a sender description.
func (s *SentIndex) Remember(d *chunk.Description) error {
	b, err := d.Marshal()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	es, err := s.load()
	if err != nil {
		es = nil // a damaged index is replaced
	}
	return s.save(append(es, sentEntry{Sender: string(b), UploadedAt: s.now().UTC()}))
}

// Descriptions returns the remembered sender descriptions, oldest first.
func (s *SentIndex) Descriptions() ([]*chunk.Description, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	es, err := s.load()
	if err != nil {
		return nil, err
	}
	var out []*chunk.Description
	for _, e := range es {
		if d, err := chunk.Parse([]byte(e.Sender)); err == nil {
			out = append(out, d)
		}
	}
	return out, nil
}

// forget drops the entries whose descriptions are in gone.
func (s *SentIndex) forget(gone []*chunk.Description) {
	if len(gone) == 0 {
		return
	}
	drop := map[string]bool{}
	for _, d := range gone {
		if b, err := d.Marshal(); err == nil {
			drop[string(b)] = true
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	es, err := s.load()
	if err != nil {
		return
	}
	s.save(slices.DeleteFunc(es, func(e sentEntry) bool { return drop[e.Sender] }))
}

// checkEarlierUploads asks the servers about to be used for the state of
// earlier uploads there (at most maxChecked, newest first, within
// statusCheckTimeout in all), so that a block found there records its
// operator's restrictions before this upload sends anything; the
// restriction check that follows then refuses, and its message says why.
// Failures are ignored: this check never stops an upload by itself.
// Entries whose every replica is gone or blocked are dropped from the
// index.
//
// It runs only when o.CheckEarlierUploads is set: a server asked sees the
// earlier uploads' sender IDs come from this address together, just
// before this upload, and so can link them all. Each earlier upload is
// asked on a connection of its own (never the upload's), which is all
// the client can do against that; time and address still link them.
func (o *Options) checkEarlierUploads(ctx context.Context, servers []string) {
	if !o.CheckEarlierUploads || o.Sent == nil || o.Restrictions == nil {
		return
	}
	targets := map[string]bool{}
	for _, srv := range servers {
		a, err := api.ParseAddress(srv)
		if err != nil {
			continue
		}
		// An operator whose no_uploads is already in force needs no check.
		if r, err := o.Restrictions.find(a.Fingerprint, blocklist.RestrictNoUploads); err == nil && r == nil {
			targets[a.Fingerprint.String()] = true
		}
	}
	onTarget := func(server string) bool {
		a, err := api.ParseAddress(server)
		return err == nil && targets[a.Fingerprint.String()]
	}
	ds, err := o.Sent.Descriptions()
	if err != nil {
		return
	}
	var todo []*chunk.Description
	for i := len(ds) - 1; i >= 0 && len(todo) < maxChecked; i-- {
		if slices.ContainsFunc(descriptionServers(ds[i]), onTarget) {
			todo = append(todo, ds[i])
		}
	}
	if len(todo) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, statusCheckTimeout)
	defer cancel()
	quick := *o
	quick.Attempts, quick.RetryFor = 1, -1
	var mu sync.Mutex
	var gone []*chunk.Description
	forEach(ctx, len(todo), 4, func(ctx context.Context, i int) error {
		d := todo[i]
		p := newPool(o.ClientOptions)
		defer p.close()
		st, err := status(ctx, d, &quick, p, onTarget)
		if err != nil {
			return nil
		}
		if st.Final() && len(st.Replicas) == len(descriptionServers(d)) {
			mu.Lock()
			gone = append(gone, d)
			mu.Unlock()
		}
		return nil
	})
	o.Sent.forget(gone)
}

// rememberUpload adds an upload's sender description to the index.
func (o *Options) rememberUpload(d *chunk.Description) {
	if o.Sent == nil || d == nil {
		return
	}
	if err := o.Sent.Remember(d); err != nil {
		o.warn("could not remember the upload for later status checks: " + err.Error())
	}
}
