package embedded

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/xftp/xftp/reports"
	bolt "go.etcd.io/bbolt"
)

var (
	boltReports = []byte("reports")      // report ID -> JSON
	boltChunks  = []byte("report_chunk") // chunk key -> report ID
)

// Reports is a reports.Store in the records database, in two buckets of
// its own.
type Reports struct {
	db  *bolt.DB
	now func() time.Time
}

var _ reports.Store = (*Reports)(nil)

// newReports returns a store in db, creating its buckets if needed; now
// (default time.Now) decides expiry. The caller keeps ownership of db.
func newReports(db *bolt.DB, now func() time.Time) (*Reports, error) {
	if now == nil {
		now = time.Now
	}
	err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{boltReports, boltChunks} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reports: creating buckets: %w", err)
	}
	return &Reports{db: db, now: now}, nil
}

// boltReport is the stored form.
type boltReport struct {
	ChunkKey  string         `json:"k"`
	SenderID  []byte         `json:"s"`
	Count     int            `json:"n"`
	Reasons   map[string]int `json:"r"`
	Contacts  []string       `json:"c,omitempty"`
	FirstAt   int64          `json:"f"` // unix ms
	LastAt    int64          `json:"l"`
	ExpiresAt int64          `json:"e"`
}

func toBolt(r *reports.Report) boltReport {
	return boltReport{ChunkKey: r.ChunkKey, SenderID: r.SenderID, Count: r.Count, Reasons: r.Reasons, Contacts: r.Contacts,
		FirstAt: r.FirstAt.UnixMilli(), LastAt: r.LastAt.UnixMilli(), ExpiresAt: r.ExpiresAt.UnixMilli()}
}

func fromBolt(id, v []byte) (*reports.Report, error) {
	var b boltReport
	if err := json.Unmarshal(v, &b); err != nil {
		return nil, fmt.Errorf("reports: corrupt report: %w", err)
	}
	return &reports.Report{ID: bytes.Clone(id), ChunkKey: b.ChunkKey, SenderID: b.SenderID, Count: b.Count, Reasons: b.Reasons,
		Contacts: b.Contacts, FirstAt: time.UnixMilli(b.FirstAt), LastAt: time.UnixMilli(b.LastAt), ExpiresAt: time.UnixMilli(b.ExpiresAt)}, nil
}

func (s *Reports) expired(r *reports.Report) bool { return !s.now().Before(r.ExpiresAt) }

func putReport(tx *bolt.Tx, r *reports.Report) error {
	v, err := json.Marshal(toBolt(r))
	if err != nil {
		return err
	}
	if err := tx.Bucket(boltReports).Put(r.ID, v); err != nil {
		return err
	}
	return tx.Bucket(boltChunks).Put([]byte(r.ChunkKey), r.ID)
}

func delReport(tx *bolt.Tx, r *reports.Report) error {
	if err := tx.Bucket(boltReports).Delete(r.ID); err != nil {
		return err
	}
	if id := tx.Bucket(boltChunks).Get([]byte(r.ChunkKey)); bytes.Equal(id, r.ID) {
		return tx.Bucket(boltChunks).Delete([]byte(r.ChunkKey))
	}
	return nil
}

// Add implements Store.
func (s *Reports) Add(ctx context.Context, sub reports.Submission) (*reports.Report, bool, error) {
	if err := sub.Validate(); err != nil {
		return nil, false, err
	}
	var out *reports.Report
	var created bool
	err := s.db.Update(func(tx *bolt.Tx) error {
		var r *reports.Report
		if id := tx.Bucket(boltChunks).Get([]byte(sub.ChunkKey)); id != nil {
			if v := tx.Bucket(boltReports).Get(id); v != nil {
				var err error
				if r, err = fromBolt(id, v); err != nil {
					return err
				}
				if s.expired(r) {
					if err := delReport(tx, r); err != nil {
						return err
					}
					r = nil
				}
			}
		}
		created = r == nil
		if created {
			at := sub.At.Truncate(time.Millisecond)
			r = &reports.Report{ID: reports.NewID(at), ChunkKey: sub.ChunkKey, SenderID: bytes.Clone(sub.SenderID),
				FirstAt: at, LastAt: at, ExpiresAt: sub.ExpiresAt.Truncate(time.Millisecond)}
		}
		r.Merge(&sub)
		out = r
		return putReport(tx, r)
	})
	if err != nil {
		return nil, false, fmt.Errorf("reports: %w", err)
	}
	return out, created, nil
}

// Get implements Store.
func (s *Reports) Get(ctx context.Context, id []byte) (*reports.Report, error) {
	var r *reports.Report
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(boltReports).Get(id)
		if v == nil {
			return reports.ErrNotFound
		}
		var err error
		r, err = fromBolt(id, v)
		return err
	})
	if err != nil {
		return nil, err
	}
	if s.expired(r) {
		return nil, reports.ErrNotFound
	}
	return r, nil
}

// List implements Store. It also removes the expired reports it passes.
func (s *Reports) List(ctx context.Context, cursor string, limit int) ([]*reports.Report, string, error) {
	limit = reports.ListLimit(limit)
	var after []byte
	if cursor != "" {
		var err error
		if after, err = reports.ParseCursor(cursor); err != nil {
			return nil, "", err
		}
	}
	var out, expired []*reports.Report
	next := ""
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(boltReports).Cursor()
		for k, v := seekAfter(c, after); k != nil; k, v = c.Next() {
			r, err := fromBolt(k, v)
			if err != nil {
				return err
			}
			if s.expired(r) {
				expired = append(expired, r)
				continue
			}
			if len(out) == limit {
				next = hex.EncodeToString(out[len(out)-1].ID)
				return nil
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	if len(expired) > 0 {
		s.db.Update(func(tx *bolt.Tx) error {
			for _, r := range expired {
				if err := delReport(tx, r); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return out, next, nil
}

// Delete implements Store.
func (s *Reports) Delete(ctx context.Context, id []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		v := tx.Bucket(boltReports).Get(id)
		if v == nil {
			return reports.ErrNotFound
		}
		r, err := fromBolt(id, v)
		if err != nil {
			return err
		}
		return delReport(tx, r)
	})
}

// Close implements Store; it leaves the database open.
func (s *Reports) Close() error { return nil }
