package client

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/blocklist"
	"github.com/xftp/xftp/chunk"
	"github.com/xftp/xftp/identity"
)

// Restriction is one operator's request, learnt from a verified blocking
// record, that this client stop doing something with that operator's
// servers. An operator is a server identity (fingerprint).
type Restriction struct {
	Server       string                  `json:"server"`  // fingerprint, unpadded base64url
	Address      string                  `json:"address"` // where it was learnt, without password
	Restrictions []blocklist.Restriction `json:"restrictions"`
	Reason       string                  `json:"reason"`
	Notice       string                  `json:"notice,omitempty"`
	BlockedAt    time.Time               `json:"blocked_at"`
	ExpiresAt    time.Time               `json:"expires_at,omitzero"` // zero: never
	LearntAt     time.Time               `json:"learnt_at"`
	// AppealCode is the record's case code: an unblock proof for it
	// from this operator lifts the restriction (appeal.go).
	AppealCode []byte `json:"appeal_code,omitempty"`
}

// Active reports whether r applies at now.
func (r *Restriction) Active(now time.Time) bool {
	return r.ExpiresAt.IsZero() || now.Before(r.ExpiresAt)
}

// Has reports whether r asks for x.
func (r *Restriction) Has(x blocklist.Restriction) bool { return slices.Contains(r.Restrictions, x) }

func (r *Restriction) until() string {
	if r.ExpiresAt.IsZero() {
		return ""
	}
	return " until " + r.ExpiresAt.UTC().Format(time.RFC3339)
}

// Restrictions is the local restriction store: a JSON file, mode 0600,
// replaced atomically on every change. Expired restrictions are dropped
// when the file is next written. Processes sharing the file do not lock
// it: when two write at once, the last one wins.
type Restrictions struct {
	path string
	now  func() time.Time
	mu   sync.Mutex
}

// restrictionsFile is the file's format.
type restrictionsFile struct {
	Version      int           `json:"version"`
	Restrictions []Restriction `json:"restrictions"`
}

// DefaultRestrictionsPath is $XFTP_HOME/restrictions.json, or
// xftp/restrictions.json in the user's configuration directory
// (~/.config/xftp/restrictions.json on Linux).
func DefaultRestrictionsPath() (string, error) {
	if h := os.Getenv("XFTP_HOME"); h != "" {
		return filepath.Join(h, "restrictions.json"), nil
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no place for the restriction store: %w (set XFTP_HOME)", err)
	}
	return filepath.Join(d, "xftp", "restrictions.json"), nil
}

// OpenRestrictions returns the store in the file at path; the file is
// created on the first change. now defaults to time.Now.
func OpenRestrictions(path string, now func() time.Time) *Restrictions {
	if now == nil {
		now = time.Now
	}
	return &Restrictions{path: path, now: now}
}

// Path returns the store's file.
func (s *Restrictions) Path() string { return s.path }

func (s *Restrictions) load() ([]Restriction, error) {
	var f restrictionsFile
	if _, err := (localFile{path: s.path, version: 1}).load(&f); errors.Is(err, errDamagedState) {
		return nil, fmt.Errorf("restriction store %s is damaged; remove it or run 'xftp restrictions clear'", s.path)
	} else if err != nil {
		return nil, fmt.Errorf("restriction store: %w", err)
	}
	return f.Restrictions, nil
}

func (s *Restrictions) save(rs []Restriction) error {
	if rs == nil {
		rs = []Restriction{}
	}
	if err := (localFile{path: s.path, version: 1}).save(restrictionsFile{Version: 1, Restrictions: rs}); err != nil {
		return fmt.Errorf("restriction store: %w", err)
	}
	return nil
}

// List returns the restrictions in force.
func (s *Restrictions) List() ([]Restriction, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs, err := s.load()
	if err != nil {
		return nil, err
	}
	now := s.now()
	return slices.DeleteFunc(rs, func(r Restriction) bool { return !r.Active(now) }), nil
}

// Add records the known restrictions of a verified record, learnt at the
// server addr. Records without known restrictions, or whose restrictions
// have expired, change nothing; added reports whether one was recorded.
func (s *Restrictions) Add(addr api.Address, rec blocklist.Record) (added *Restriction, err error) {
	r := Restriction{
		Server: rec.Server.String(), Address: addr.Redacted(), Reason: string(rec.Reason), Notice: rec.Notice,
		BlockedAt: rec.BlockedAt, LearntAt: s.now().UTC(), AppealCode: rec.AppealCode,
	}
	for _, x := range rec.Restrictions {
		if x == blocklist.RestrictNoUploads || x == blocklist.RestrictNoSenderFiles {
			r.Restrictions = append(r.Restrictions, x)
		}
	}
	if rec.TTL > 0 {
		r.ExpiresAt = rec.BlockedAt.Add(rec.TTL).UTC()
	}
	if len(r.Restrictions) == 0 || !r.Active(s.now()) {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.liftedCase(rec.Server, rec.AppealCode) { // appeal.go
		return nil, nil
	}
	rs, err := s.load()
	if err != nil {
		return nil, err
	}
	now := s.now()
	rs = slices.DeleteFunc(rs, func(o Restriction) bool {
		// Drop what expired, and an identical earlier copy of this one.
		return !o.Active(now) || o.Server == r.Server && o.BlockedAt.Equal(r.BlockedAt) &&
			slices.Equal(o.Restrictions, r.Restrictions) && o.ExpiresAt.Equal(r.ExpiresAt)
	})
	rs = append(rs, r)
	if len(rs) > MaxRestrictions {
		// Keep the store (rewritten whole on each add) bounded: the
		// restrictions learnt longest ago go first.
		slices.SortStableFunc(rs, func(a, b Restriction) int { return a.LearntAt.Compare(b.LearntAt) })
		rs = rs[len(rs)-MaxRestrictions:]
	}
	return &r, s.save(rs)
}

// MaxRestrictions bounds the restriction store.
const MaxRestrictions = 256

// Clear removes the restrictions of the operator with fingerprint fp, or
// all if fp is nil, and returns how many it removed.
func (s *Restrictions) Clear(fp *identity.Fingerprint) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs, err := s.load()
	if err != nil && fp != nil {
		return 0, err
	}
	n := len(rs)
	if fp != nil {
		rs = slices.DeleteFunc(rs, func(r Restriction) bool { return r.Server == fp.String() })
	} else {
		rs = nil
	}
	return n - len(rs), s.save(rs)
}

// find returns the first restriction in force that fp's operator asked
// for with x.
func (s *Restrictions) find(fp identity.Fingerprint, x blocklist.Restriction) (*Restriction, error) {
	rs, err := s.List()
	if err != nil {
		return nil, err
	}
	for i := range rs {
		if rs[i].Server == fp.String() && rs[i].Has(x) {
			return &rs[i], nil
		}
	}
	return nil, nil
}

// RestrictedError means the restriction store forbids an operation.
type RestrictedError struct {
	Server      string // the server's address, without password
	Restriction blocklist.Restriction
	Because     Restriction
}

func (e *RestrictedError) Error() string {
	head := fmt.Sprintf("refusing to upload to %s: its operator", e.Server)
	asked := "stop uploading there"
	if e.Restriction == blocklist.RestrictNoSenderFiles {
		head = fmt.Sprintf("refusing to download: the file is relayed through %s, whose operator", e.Server)
		asked = "refuse files relayed through its servers"
	}
	return fmt.Sprintf("%s blocked a file on %s for %s and asked clients to %s%s (--ignore-restrictions overrides; 'xftp restrictions clear %s' forgets it)",
		head, e.Because.BlockedAt.UTC().Format(time.RFC3339), describeReason(e.Because.Reason, e.Because.Notice),
		asked, e.Because.until(), e.Because.Server)
}

// checkServers returns a RestrictedError for the first of servers whose
// operator asked for x, or, with IgnoreRestrictions, warns and returns nil.
func (o *Options) checkServers(servers []string, x blocklist.Restriction) error {
	if o.Restrictions == nil {
		return nil
	}
	seen := map[string]bool{}
	for _, srv := range servers {
		if seen[srv] {
			continue
		}
		seen[srv] = true
		addr, err := api.ParseAddress(srv)
		if err != nil {
			return err
		}
		r, err := o.Restrictions.find(addr.Fingerprint, x)
		if err != nil {
			return err
		}
		if r == nil {
			continue
		}
		e := &RestrictedError{Server: addr.Redacted(), Restriction: x, Because: *r}
		if !o.IgnoreRestrictions {
			return e
		}
		o.warn("ignoring a restriction: " + e.Error())
	}
	return nil
}

// descriptionServers returns every server a description uses.
func descriptionServers(d *chunk.Description) []string {
	var out []string
	for _, c := range append(append([]chunk.ChunkRef{}, d.Chunks...), d.Parity...) {
		for _, r := range c.Replicas {
			out = append(out, r.Server)
		}
	}
	return out
}

func (o *Options) warn(msg string) {
	if o.Warn != nil {
		o.Warn(msg)
	}
}

// BlockedError reports a chunk that a server's operator blocked, with the
// record the server signed and what this client now restricts.
type BlockedError struct {
	Server string // the server's address, without password
	Op     string // upload, download or delete
	Chunk  int    // 1-based
	Chunks int
	Record *blocklist.SignedRecord
	// Restricted is what was recorded in the restriction store, if any.
	Restricted *Restriction
	addr       string // the server's full address, to record restrictions
}

func (e *BlockedError) Error() string {
	r := e.Record.Record
	var b strings.Builder
	fmt.Fprintf(&b, "chunk %d of %d is blocked by the operator of %s for %s (verified record of %s",
		e.Chunk, e.Chunks, e.Server, describeReason(string(r.Reason), r.Notice), r.BlockedAt.UTC().Format(time.RFC3339))
	if len(r.AppealCode) > 0 {
		fmt.Fprintf(&b, ", case %s", api.B64(r.AppealCode))
	}
	b.WriteString(")")
	switch {
	case e.Restricted != nil:
		var xs []string
		for _, x := range e.Restricted.Restrictions {
			switch x {
			case blocklist.RestrictNoUploads:
				xs = append(xs, "uploads to this operator")
			case blocklist.RestrictNoSenderFiles:
				xs = append(xs, "downloads of files relayed through this operator")
			}
		}
		fmt.Fprintf(&b, "; now refused by this client: %s%s", strings.Join(xs, " and "), e.Restricted.until())
	case len(r.Restrictions) > 0 && r.Expired(time.Now()):
		b.WriteString("; its restrictions have expired")
	default:
		b.WriteString("; nothing else is restricted")
	}
	return b.String()
}

// Unwrap returns the blocklist error, so errors.As finds the record.
func (e *BlockedError) Unwrap() error { return &blocklist.BlockedError{Record: e.Record} }

func describeReason(reason, notice string) string {
	s := printable(reason)
	if notice != "" {
		s += fmt.Sprintf(": %q", printable(notice))
	}
	return s
}

func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return unicode.ReplacementChar
	}, s)
}

// blocked turns err into a *BlockedError if it is a verified block from
// server; otherwise it returns nil. It records nothing: a block met on the
// way (one replica of several, an erasure the parity made up for, a
// report) restricts nothing, or anyone who holds one blocked ID and its
// key could make a victim's client refuse a relay by putting that ID into
// a description whose download still succeeds. See restrict.
func (o *Options) blocked(err error, server, op string, chunkNo, chunks int) *BlockedError {
	var be *blocklist.BlockedError
	if !errors.As(err, &be) || be.Record == nil {
		return nil
	}
	return &BlockedError{Server: redact(server), Op: op, Chunk: chunkNo, Chunks: chunks, Record: be.Record, addr: server}
}

// restrict records the restrictions of the block that stopped an
// operation (err is what the operation returns) in the restriction store;
// the error's message then says what is now refused. Only operations the
// user asked for call it, with their final error: a download or upload
// that a block stopped, and the sender's own status and delete requests
// (which need the sender key).
func (o *Options) restrict(err error) {
	var be *BlockedError
	if !errors.As(err, &be) || be.Restricted != nil || o.Restrictions == nil {
		return
	}
	addr, perr := api.ParseAddress(be.addr)
	if perr != nil {
		return
	}
	r, aerr := o.Restrictions.Add(addr, be.Record.Record)
	if aerr != nil {
		o.warn("could not record the operator's restrictions: " + aerr.Error())
	}
	be.Restricted = r
}
