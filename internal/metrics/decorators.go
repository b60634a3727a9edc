package metrics

import (
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"time"

	"github.com/xftp/xftp/storage"
)

func isNotFound(err error) bool { return errors.Is(err, storage.ErrNotFound) }

// Store wraps a storage.Store and observes each call.
type Store struct {
	storage.Store
	m    *Metrics
	name string
}

// InstrumentStore returns s observed under the backend label name.
func InstrumentStore(s storage.Store, m *Metrics, name string) *Store {
	return &Store{Store: s, m: m, name: name}
}

// Put implements storage.Store.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	start := time.Now()
	err := s.Store.Put(ctx, key, r, size)
	if ctx.Err() == nil { // a client hanging up is not a backend error
		s.m.observeBackend(s.name, "put", start, err)
	}
	return err
}

// Get implements storage.Store.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	start := time.Now()
	rc, n, err := s.Store.Get(ctx, key)
	s.m.observeBackend(s.name, "get", start, err)
	return rc, n, err
}

// Stat implements storage.Store.
func (s *Store) Stat(ctx context.Context, key string) (int64, error) {
	start := time.Now()
	n, err := s.Store.Stat(ctx, key)
	s.m.observeBackend(s.name, "stat", start, err)
	return n, err
}

// Delete implements storage.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	start := time.Now()
	err := s.Store.Delete(ctx, key)
	s.m.observeBackend(s.name, "delete", start, err)
	return err
}

// List implements storage.Store.
func (s *Store) List(ctx context.Context, fn func(string) error) error {
	start := time.Now()
	err := s.Store.List(ctx, fn)
	s.m.observeBackend(s.name, "list", start, err)
	return err
}

// Ping passes readiness checks through to the wrapped store.
func (s *Store) Ping(ctx context.Context) error {
	if p, ok := s.Store.(interface{ Ping(context.Context) error }); ok {
		return p.Ping(ctx)
	}
	return nil
}

// Records wraps a storage.Records and observes each call.
type Records struct {
	r    storage.Records
	m    *Metrics
	name string
}

var (
	_ storage.Store   = (*Store)(nil)
	_ storage.Records = (*Records)(nil)
)

// InstrumentRecords returns r observed under the backend label name.
func InstrumentRecords(r storage.Records, m *Metrics, name string) *Records {
	return &Records{r: r, m: m, name: name}
}

func observe[T any](r *Records, op string, f func() (T, error)) (T, error) {
	start := time.Now()
	v, err := f()
	r.m.observeBackend(r.name, op, start, err)
	return v, err
}

func (r *Records) do(op string, f func() error) error {
	_, err := observe(r, op, func() (struct{}, error) { return struct{}{}, f() })
	return err
}

// Create implements storage.Records.
func (r *Records) Create(ctx context.Context, rec *storage.Record, quota int64) error {
	return r.do("create", func() error { return r.r.Create(ctx, rec, quota) })
}

// DeleteUnuploaded implements storage.Records.
func (r *Records) DeleteUnuploaded(ctx context.Context, key string) (*storage.Record, error) {
	return observe(r, "delete_unuploaded", func() (*storage.Record, error) { return r.r.DeleteUnuploaded(ctx, key) })
}

// BySenderKey implements storage.Records.
func (r *Records) BySenderKey(ctx context.Context, k ed25519.PublicKey) (*storage.Record, error) {
	return observe(r, "by_sender_key", func() (*storage.Record, error) { return r.r.BySenderKey(ctx, k) })
}

// Lookup implements storage.Records.
func (r *Records) Lookup(ctx context.Context, id []byte) (*storage.Record, storage.Role, error) {
	var role storage.Role
	rec, err := observe(r, "lookup", func() (*storage.Record, error) {
		rec, ro, err := r.r.Lookup(ctx, id)
		role = ro
		return rec, err
	})
	return rec, role, err
}

// AddRecipients implements storage.Records.
func (r *Records) AddRecipients(ctx context.Context, key string, rs []storage.Recipient) error {
	return r.do("add_recipients", func() error { return r.r.AddRecipients(ctx, key, rs) })
}

// SetUploaded implements storage.Records.
func (r *Records) SetUploaded(ctx context.Context, key, body string) (held string, err error) {
	err = r.do("set_uploaded", func() error { held, err = r.r.SetUploaded(ctx, key, body); return err })
	return held, err
}

// RemoveRecipient implements storage.Records.
func (r *Records) RemoveRecipient(ctx context.Context, key string, id []byte) error {
	return r.do("remove_recipient", func() error { return r.r.RemoveRecipient(ctx, key, id) })
}

// MarkDownloaded implements storage.Records.
func (r *Records) MarkDownloaded(ctx context.Context, key string, id []byte) (bool, error) {
	return observe(r, "mark_downloaded", func() (bool, error) { return r.r.MarkDownloaded(ctx, key, id) })
}

// Delete implements storage.Records.
func (r *Records) Delete(ctx context.Context, key string) (*storage.Record, error) {
	return observe(r, "delete", func() (*storage.Record, error) { return r.r.Delete(ctx, key) })
}

// Expired implements storage.Records.
func (r *Records) Expired(ctx context.Context, now time.Time, limit int) ([]*storage.Record, error) {
	return observe(r, "expired", func() ([]*storage.Record, error) { return r.r.Expired(ctx, now, limit) })
}

// Has implements storage.Records.
func (r *Records) Has(ctx context.Context, key string) (bool, error) {
	return observe(r, "has", func() (bool, error) { return r.r.Has(ctx, key) })
}

// Usage implements storage.Records.
func (r *Records) Usage(ctx context.Context) (storage.Usage, error) {
	return observe(r, "usage", func() (storage.Usage, error) { return r.r.Usage(ctx) })
}

// Ping implements storage.Records.
func (r *Records) Ping(ctx context.Context) error {
	return r.do("ping", func() error { return r.r.Ping(ctx) })
}

// Close implements storage.Records.
func (r *Records) Close() error { return r.r.Close() }
