package server

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/xftp/xftp/blocklist"
	"golang.org/x/time/rate"

	"github.com/xftp/xftp/identity"
	"github.com/xftp/xftp/reports"
	"github.com/xftp/xftp/storage"
)

// IDSize is the size of sender and recipient IDs.
const IDSize = 24

// Service is the relay. It is safe for concurrent use.
type Service struct {
	cfg     Config
	id      *identity.Identity
	store   storage.Store
	records storage.Records
	nonces  Nonces
	log     *slog.Logger
	now     func() time.Time
	metrics Metrics

	dummyKey ed25519.PublicKey
	// epoch, if set, is when this process started with nonces that do not
	// outlive it: earlier time stamps are refused (checkClock).
	epoch time.Time
	// Takedowns (block.go).
	blocks     blocklist.Store
	quarantine storage.Store
	audit      AuditLog
	// Abuse reports (reports.go).
	reports     reports.Store
	reportLimit *rate.Limiter
}

// Options are a Service's collaborators. Store, Records and Identity are
// required.
type Options struct {
	Identity *identity.Identity
	Store    storage.Store
	Records  storage.Records
	// Nonces defaults to a MemoryNonces (fine for one replica).
	Nonces Nonces
	// NonceCapacity is the number of live nonces the service plans for
	// (default DefaultNonceCapacity): the size of the default MemoryNonces,
	// and what the per-source shares of the nonce cache are cut from.
	NonceCapacity int
	Logger        *slog.Logger
	// Now defaults to time.Now; tests inject clocks.
	Now     func() time.Time
	Metrics Metrics
	// Blocklist holds blocked chunks; nil disables blocking. Every
	// request is checked against it (see block.go).
	Blocklist blocklist.Store
	// Quarantine, if set, receives the bodies of blocked chunks instead
	// of their being deleted.
	Quarantine storage.Store
	// Audit records blocklist changes; nil records nothing.
	Audit AuditLog
	// Reports keeps abuse reports; nil refuses them (reports.go).
	Reports reports.Store
	// ReportsPerMinute caps accepted abuse reports over all sources
	// (default DefaultReportsPerMinute; negative: no cap).
	ReportsPerMinute int
}

// New returns a Service.
// DefaultNonceCapacity is the default number of live nonces (about 110 MiB
// of memory when full).
const DefaultNonceCapacity = 4 << 20

func New(cfg Config, o Options) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if o.Identity == nil || o.Store == nil || o.Records == nil {
		return nil, errors.New("server: identity, store and records are required")
	}
	capacity := o.NonceCapacity
	if capacity <= 0 {
		capacity = DefaultNonceCapacity
	}
	// In-memory nonces are lost with the process: a request signed
	// before this start could be replayed after it. Such requests are
	// refused as CLOCK (clients re-sign with the time they then learn).
	var epoch time.Time
	if o.Nonces == nil {
		o.Nonces = NewMemoryNonces(capacity, 3*cfg.ClockSkew)
		epoch = time.Now()
		if o.Now != nil {
			epoch = o.Now()
		}
	}
	// No source may hold more than 1/16 of the cache, and past 3/4 of it
	// only sources with fewer than 1024 (by default) live nonces may add
	// more: filling it then takes 12 sources at their limit and ~1,000
	// more sources.
	o.Nonces = newFairNonces(o.Nonces, capacity*3/4, capacity/16, min(1024, max(1, capacity/64)), 3*cfg.ClockSkew)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Metrics == nil {
		o.Metrics = nopMetrics{}
	}
	if o.Audit == nil {
		o.Audit = nopAudit{}
	}
	cfg.ChunkSizes = slices.Clone(cfg.ChunkSizes)
	return &Service{cfg: cfg, id: o.Identity, store: o.Store, records: o.Records,
		nonces: o.Nonces, log: o.Logger, now: o.Now, metrics: o.Metrics,
		blocks: o.Blocklist, quarantine: o.Quarantine, audit: o.Audit, dummyKey: newDummyKey(), epoch: epoch,
		reports: o.Reports, reportLimit: reportLimiter(o.ReportsPerMinute)}, nil
}

// Identity returns the server's identity.
func (s *Service) Identity() *identity.Identity { return s.id }

// Now returns the service's clock reading.
func (s *Service) Now() time.Time { return s.now() }

// Config returns the service's configuration.
func (s *Service) Config() Config { return s.cfg }

func newID() []byte {
	b := make([]byte, IDSize)
	rand.Read(b)
	return b
}

// CreateRequest asks for a new chunk.
type CreateRequest struct {
	SenderKey     ed25519.PublicKey
	Size          int64
	Digest        [32]byte
	RecipientKeys []ed25519.PublicKey
	Password      string
}

// Created is what Create returns: the chunk's IDs and its expiry.
type Created struct {
	SenderID     []byte
	RecipientIDs [][]byte
	ExpiresAt    time.Time
}

// Create makes a new chunk record. The request must be signed by the new
// sender key.
func (s *Service) Create(ctx context.Context, req CreateRequest, a Auth) (*Created, error) {
	rec, err := s.newRecord(ctx, req, a)
	if err != nil {
		return nil, err
	}
	if rec, _, err = s.commitRecord(ctx, rec); err != nil {
		return nil, err
	}
	return created(rec), nil
}

// CreateUploaded makes a new chunk and stores its body in one step: the
// checks of Create, then those of Upload, for one request, one signature
// and one nonce. As with Create and Upload, the record (reserving the
// quota atomically) is written before the body, so the orphan sweeper never
// sees a body in flight; if anything after it fails, both are removed, so a
// failed request leaves nothing behind. A retry of a request whose answer
// was lost (the same sender key and chunk) answers with the chunk that
// request made, without storing its body twice.
func (s *Service) CreateUploaded(ctx context.Context, req CreateRequest, a Auth, body io.Reader, length int64) (*Created, error) {
	if length != req.Size {
		return nil, ErrSize // before the signature: spends no nonce
	}
	rec, err := s.newRecord(ctx, req, a)
	if err != nil {
		return nil, err
	}
	rec, retried, err := s.commitRecord(ctx, rec)
	switch {
	case err != nil:
		return nil, err
	case retried && rec.Uploaded:
		return created(rec), nil // the body is not read
	}
	// A retry whose first attempt's body never arrived whole (or is
	// arriving still) completes the same chunk, as Upload would.
	if err := s.commitBody(ctx, rec, body); err != nil {
		if !retried {
			// Whatever the request's fate, its client takes it as
			// failed: remove the record and any body, even if the
			// client is gone. A retry leaves the record: it is the
			// first attempt's.
			s.undoCreate(context.WithoutCancel(ctx), rec.Key)
		}
		if errors.Is(err, errRecordGone) {
			// Removed meanwhile (by a first attempt's clean-up, say):
			// a further retry makes the chunk afresh.
			return nil, unavailable(err)
		}
		return nil, err
	}
	return created(rec), nil
}

// undoCreate removes the record of a failed create-and-upload, unless a
// retry of the same request has completed the chunk meanwhile
// (DeleteUnuploaded keeps an uploaded record). The attempt's body, if any,
// commitBody has removed already.
func (s *Service) undoCreate(ctx context.Context, key string) {
	switch _, err := s.records.DeleteUnuploaded(ctx, key); {
	case err == nil, errors.Is(err, storage.ErrExists), errors.Is(err, storage.ErrNotFound):
	default:
		s.log.Warn("removing a failed upload's record failed; it goes at expiry", "err", err)
	}
}

// Clean-up deletes (a failed attempt's body, a deleted chunk's body) run
// with a deadline, cleanupTimeout, and the answer waits for them at most
// cleanupWait: a store node that does not answer (a distributed MinIO
// missing a node) delays no answer by more, and the orphan sweeper
// removes what a clean-up could not.
const (
	cleanupTimeout = 30 * time.Second
	cleanupWait    = 250 * time.Millisecond
)

// deleteBody removes a stored body as a clean-up (see cleanupTimeout).
func (s *Service) deleteBody(ctx context.Context, name, why string) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if err := s.store.Delete(ctx, name); err != nil && !errors.Is(err, storage.ErrNotFound) {
			s.log.Warn("deleting "+why+" failed; the orphan sweeper will retry", "err", err)
		}
	}()
	t := time.NewTimer(cleanupWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// newRecord checks a create request, in the order of docs/PROTOCOL.md §5.1
// (bar the quota), and returns the record it asks for.
func (s *Service) newRecord(ctx context.Context, req CreateRequest, a Auth) (*storage.Record, error) {
	if err := s.checkClock(a); err != nil {
		return nil, err
	}
	if len(req.SenderKey) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: sender key", ErrSyntax)
	}
	if err := s.checkRecipientKeys(req.RecipientKeys); err != nil {
		return nil, err
	}
	if !s.cfg.AllowNew {
		return nil, ErrProhibited
	}
	// The password is checked before the signature, so that requests
	// without it spend no nonce (the sender key is the requester's own).
	if s.cfg.Password != "" && !passwordMatches(req.Password, s.cfg.Password) {
		return nil, ErrAuth
	}
	// Cheap checks before the signature, so that a refused create spends
	// no nonce (the sender key is the requester's own: anyone can sign).
	if !slices.Contains(s.cfg.ChunkSizes, req.Size) {
		return nil, ErrSize
	}
	if err := s.verify(ctx, req.SenderKey, a); err != nil {
		return nil, err
	}
	if err := s.checkDigestBlocked(ctx, req.Digest); err != nil {
		return nil, err
	}
	now := s.now()
	rec := &storage.Record{
		Key: storage.NewKey(), SenderID: newID(), SenderKey: req.SenderKey, Size: req.Size,
		Digest: req.Digest, CreatedAt: now, ExpiresAt: now.Add(s.cfg.Expiry),
	}
	for _, k := range req.RecipientKeys {
		rec.Recipients = append(rec.Recipients, storage.Recipient{ID: newID(), Key: k})
	}
	return rec, nil
}

// commitRecord stores a new record within the quota. If its sender key
// already names a live chunk asked for with the same size, digest and
// recipient keys, the request is a retry of one whose answer was lost:
// commitRecord returns that chunk's record instead, with retried set. A
// sender key may name one chunk only (ErrKeyInUse otherwise).
func (s *Service) commitRecord(ctx context.Context, rec *storage.Record) (_ *storage.Record, retried bool, err error) {
	for attempt := 0; ; attempt++ {
		err = s.records.Create(ctx, rec, s.cfg.Quota)
		if !errors.Is(err, storage.ErrExists) || attempt > 0 {
			break
		}
		old, lerr := s.records.BySenderKey(ctx, rec.SenderKey)
		switch {
		case errors.Is(lerr, storage.ErrNotFound):
			// An ID collided (or the chunk just went): try once more
			// with fresh IDs.
			rec.Key, rec.SenderID = storage.NewKey(), newID()
			for i := range rec.Recipients {
				rec.Recipients[i].ID = newID()
			}
			continue
		case lerr != nil:
			return nil, false, unavailable(lerr)
		case !s.now().Before(old.ExpiresAt):
			// Expired, not swept yet: it goes now, and the new one is made.
			if rerr := s.remove(ctx, old.Key); rerr != nil && !errors.Is(rerr, storage.ErrNotFound) {
				return nil, false, rerr
			}
			continue
		case !sameChunk(old, rec):
			// Asked for differently (or changed since: recipients added
			// or acknowledged): not a retry this server can answer.
			return nil, false, ErrKeyInUse
		}
		return old, true, nil
	}
	switch {
	case errors.Is(err, storage.ErrQuota):
		return nil, false, ErrQuota
	case err != nil:
		return nil, false, unavailable(err)
	}
	s.metrics.Count(EventCreated, 1)
	s.metrics.Count(EventRecipients, len(rec.Recipients))
	return rec, false, nil
}

// sameChunk reports whether a and b were asked for alike: size, digest and
// recipient keys, in order (IDs and times differ between attempts).
func sameChunk(a, b *storage.Record) bool {
	if a.Size != b.Size || a.Digest != b.Digest || len(a.Recipients) != len(b.Recipients) {
		return false
	}
	for i := range a.Recipients {
		if !a.Recipients[i].Key.Equal(b.Recipients[i].Key) {
			return false
		}
	}
	return true
}

func created(rec *storage.Record) *Created {
	out := &Created{SenderID: rec.SenderID, ExpiresAt: rec.ExpiresAt}
	for _, rc := range rec.Recipients {
		out.RecipientIDs = append(out.RecipientIDs, rc.ID)
	}
	return out
}

func (s *Service) checkRecipientKeys(keys []ed25519.PublicKey) error {
	if len(keys) == 0 || len(keys) > s.cfg.MaxRecipients {
		return fmt.Errorf("%w: between 1 and %d recipient keys per request", ErrSyntax, s.cfg.MaxRecipients)
	}
	for _, k := range keys {
		if len(k) != ed25519.PublicKeySize {
			return fmt.Errorf("%w: recipient key", ErrSyntax)
		}
	}
	return nil
}

// Upload stores the body of the chunk named by senderID. It reads exactly
// the chunk's size from body, verifies the digest while streaming, and
// commits atomically. Uploading a committed chunk again changes nothing.
// length is the body's announced length, or -1 if the binding does not
// know it (the body must then end after the chunk's size by itself).
func (s *Service) Upload(ctx context.Context, senderID []byte, a Auth, body io.Reader, length int64) error {
	rec, err := s.authorize(ctx, senderID, storage.RoleSender, a)
	if err != nil {
		return err
	}
	if rec.Uploaded {
		return nil
	}
	if length >= 0 && length != rec.Size {
		return ErrSize
	}
	if err := s.commitBody(ctx, rec, body); err != nil {
		if errors.Is(err, errRecordGone) {
			return ErrAuth // deleted or expired while uploading
		}
		return err
	}
	return nil
}

// errRecordGone: a chunk's record went while its body was being stored;
// commitBody dropped the body again.
var errRecordGone = errors.New("the chunk's record went while its body was stored")

// commitBody stores rec's body under a name of this attempt's own
// (storage.NewBodyName) and points the record at it. The first attempt to
// finish wins: a concurrent or retried one that finishes later drops its
// copy, and one cut off midway never touches the stored body, even on a
// store whose writes are not atomic.
func (s *Service) commitBody(ctx context.Context, rec *storage.Record, body io.Reader) error {
	name := storage.NewBodyName(rec.Key)
	if err := s.storeBody(ctx, name, rec, body); err != nil {
		s.deleteBody(ctx, name, "a failed upload's body") // a store may keep what arrived
		return err
	}
	held, err := s.records.SetUploaded(ctx, rec.Key, name)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		s.deleteBody(ctx, name, "an upload's body whose chunk went")
		return errRecordGone
	case err != nil:
		// The record may point at this body all the same: the change
		// can be made and its answer lost, or Redis replicas not confirm
		// it in time. The body stays; if the record does not name it, it
		// goes with the record (SweepOrphans).
		return unavailable(err)
	case held != name:
		// Another attempt finished first; its body serves.
		s.deleteBody(ctx, name, "a duplicate upload's body")
		return nil
	}
	s.metrics.Count(EventUploaded, 1)
	s.metrics.Bytes(EventUploaded, rec.Size)
	return nil
}

// storeBody streams exactly rec.Size bytes of body into the store under
// name, verifying their digest on the way (body.go).
func (s *Service) storeBody(ctx context.Context, name string, rec *storage.Record, body io.Reader) error {
	vr := newVerifyingReader(body, rec.Size, rec.Digest)
	if err := s.store.Put(ctx, name, vr, StoredSize(rec.Size)); err != nil {
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case vr.err != nil:
			return vr.err
		case errors.Is(err, io.ErrUnexpectedEOF):
			return ErrSize
		case storageFull(err):
			s.log.Error("chunk storage is full or read-only", "err", err)
			return errors.Join(ErrFull, err)
		}
		return unavailable(err)
	}
	return nil
}

// AddRecipients adds recipient IDs to the chunk named by senderID.
func (s *Service) AddRecipients(ctx context.Context, senderID []byte, keys []ed25519.PublicKey, a Auth) ([][]byte, error) {
	if err := s.checkRecipientKeys(keys); err != nil {
		return nil, err
	}
	rec, err := s.authorize(ctx, senderID, storage.RoleSender, a)
	if err != nil {
		return nil, err
	}
	if len(rec.Recipients)+len(keys) > s.cfg.MaxRecipientsPerChunk {
		return nil, fmt.Errorf("%w: a chunk has at most %d recipients", ErrSyntax, s.cfg.MaxRecipientsPerChunk)
	}
	rs := make([]storage.Recipient, len(keys))
	ids := make([][]byte, len(keys))
	for i, k := range keys {
		ids[i] = newID()
		rs[i] = storage.Recipient{ID: ids[i], Key: k}
	}
	switch err := s.records.AddRecipients(ctx, rec.Key, rs); {
	case errors.Is(err, storage.ErrNotFound):
		return nil, ErrAuth
	case err != nil:
		return nil, unavailable(err)
	}
	s.metrics.Count(EventRecipients, len(ids))
	return ids, nil
}

// Ack removes the recipient ID: that recipient is done with the chunk.
func (s *Service) Ack(ctx context.Context, recipientID []byte, a Auth) error {
	rec, err := s.authorize(ctx, recipientID, storage.RoleRecipient, a)
	if err != nil {
		return err
	}
	switch err := s.records.RemoveRecipient(ctx, rec.Key, recipientID); {
	case errors.Is(err, storage.ErrNotFound):
		return ErrAuth
	case err != nil:
		return unavailable(err)
	}
	s.metrics.Count(EventAcked, 1)
	return nil
}

// Delete removes the chunk named by senderID, its record and body.
func (s *Service) Delete(ctx context.Context, senderID []byte, a Auth) error {
	rec, err := s.authorize(ctx, senderID, storage.RoleSender, a)
	if err != nil {
		return err
	}
	if err := s.remove(ctx, rec.Key); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return ErrAuth
		}
		return err
	}
	s.metrics.Count(EventDeleted, 1)
	return nil
}

// remove deletes a record, then its body. A crash in between leaves an
// orphaned body, which the orphan sweeper removes; the reverse order could
// leave a record that promises a body that is gone.
func (s *Service) remove(ctx context.Context, key string) error {
	rec, err := s.records.Delete(ctx, key)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return err
		}
		return unavailable(err)
	}
	s.deleteBody(ctx, rec.BodyName(), "a chunk's body")
	return nil
}

// Usage reports what the service stores.
func (s *Service) Usage(ctx context.Context) (storage.Usage, error) {
	return s.records.Usage(ctx)
}

// Ready checks that the backends answer.
func (s *Service) Ready(ctx context.Context) error {
	if err := s.records.Ping(ctx); err != nil {
		return fmt.Errorf("records: %w", err)
	}
	if p, ok := s.store.(interface{ Ping(context.Context) error }); ok {
		if err := p.Ping(ctx); err != nil {
			return fmt.Errorf("store: %w", err)
		}
	}
	return nil
}

// passwordMatches compares an upload password in constant time, length
// included: both sides are hashed first (ConstantTimeCompare returns at
// once for different lengths, which told a prober the password's length).
func passwordMatches(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}
