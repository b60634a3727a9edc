package reports

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

var (
	boltReports = []byte("reports")      // report ID -> JSON
	boltChunks  = []byte("report_chunk") // chunk key -> report ID
)

// Bolt is a Store in a bbolt database, in two buckets of its own.
type Bolt struct {
	db  *bbolt.DB
	now func() time.Time
}

var _ Store = (*Bolt)(nil)

// NewBolt returns a store in db, creating its buckets if needed; now
// (default time.Now) decides expiry. The caller keeps ownership of db.
func NewBolt(db *bbolt.DB, now func() time.Time) (*Bolt, error) {
	if now == nil {
		now = time.Now
	}
	err := db.Update(func(tx *bbolt.Tx) error {
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
	return &Bolt{db: db, now: now}, nil
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

func toBolt(r *Report) boltReport {
	return boltReport{ChunkKey: r.ChunkKey, SenderID: r.SenderID, Count: r.Count, Reasons: r.Reasons, Contacts: r.Contacts,
		FirstAt: r.FirstAt.UnixMilli(), LastAt: r.LastAt.UnixMilli(), ExpiresAt: r.ExpiresAt.UnixMilli()}
}

func fromBolt(id, v []byte) (*Report, error) {
	var b boltReport
	if err := json.Unmarshal(v, &b); err != nil {
		return nil, fmt.Errorf("reports: corrupt report: %w", err)
	}
	return &Report{ID: bytes.Clone(id), ChunkKey: b.ChunkKey, SenderID: b.SenderID, Count: b.Count, Reasons: b.Reasons,
		Contacts: b.Contacts, FirstAt: time.UnixMilli(b.FirstAt), LastAt: time.UnixMilli(b.LastAt), ExpiresAt: time.UnixMilli(b.ExpiresAt)}, nil
}

func (s *Bolt) expired(r *Report) bool { return !s.now().Before(r.ExpiresAt) }

func put(tx *bbolt.Tx, r *Report) error {
	v, err := json.Marshal(toBolt(r))
	if err != nil {
		return err
	}
	if err := tx.Bucket(boltReports).Put(r.ID, v); err != nil {
		return err
	}
	return tx.Bucket(boltChunks).Put([]byte(r.ChunkKey), r.ID)
}

func del(tx *bbolt.Tx, r *Report) error {
	if err := tx.Bucket(boltReports).Delete(r.ID); err != nil {
		return err
	}
	if id := tx.Bucket(boltChunks).Get([]byte(r.ChunkKey)); bytes.Equal(id, r.ID) {
		return tx.Bucket(boltChunks).Delete([]byte(r.ChunkKey))
	}
	return nil
}

// Add implements Store.
func (s *Bolt) Add(ctx context.Context, sub Submission) (*Report, bool, error) {
	if err := sub.validate(); err != nil {
		return nil, false, err
	}
	var out *Report
	var created bool
	err := s.db.Update(func(tx *bbolt.Tx) error {
		var r *Report
		if id := tx.Bucket(boltChunks).Get([]byte(sub.ChunkKey)); id != nil {
			if v := tx.Bucket(boltReports).Get(id); v != nil {
				var err error
				if r, err = fromBolt(id, v); err != nil {
					return err
				}
				if s.expired(r) {
					if err := del(tx, r); err != nil {
						return err
					}
					r = nil
				}
			}
		}
		created = r == nil
		if created {
			at := sub.At.Truncate(time.Millisecond)
			r = &Report{ID: newID(at), ChunkKey: sub.ChunkKey, SenderID: bytes.Clone(sub.SenderID),
				FirstAt: at, LastAt: at, ExpiresAt: sub.ExpiresAt.Truncate(time.Millisecond)}
		}
		merge(r, &sub)
		out = r
		return put(tx, r)
	})
	if err != nil {
		return nil, false, fmt.Errorf("reports: %w", err)
	}
	return out, created, nil
}

// Get implements Store.
func (s *Bolt) Get(ctx context.Context, id []byte) (*Report, error) {
	var r *Report
	err := s.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(boltReports).Get(id)
		if v == nil {
			return ErrNotFound
		}
		var err error
		r, err = fromBolt(id, v)
		return err
	})
	if err != nil {
		return nil, err
	}
	if s.expired(r) {
		return nil, ErrNotFound
	}
	return r, nil
}

// List implements Store. It also removes the expired reports it passes.
func (s *Bolt) List(ctx context.Context, cursor string, limit int) ([]*Report, string, error) {
	limit = listLimit(limit)
	var after []byte
	if cursor != "" {
		var err error
		if after, err = parseCursor(cursor); err != nil {
			return nil, "", err
		}
	}
	var out, expired []*Report
	next := ""
	err := s.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(boltReports).Cursor()
		var k, v []byte
		if after == nil {
			k, v = c.First()
		} else if k, v = c.Seek(after); k != nil && bytes.Equal(k, after) {
			k, v = c.Next()
		}
		for ; k != nil; k, v = c.Next() {
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
		s.db.Update(func(tx *bbolt.Tx) error {
			for _, r := range expired {
				if err := del(tx, r); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return out, next, nil
}

// Delete implements Store.
func (s *Bolt) Delete(ctx context.Context, id []byte) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		v := tx.Bucket(boltReports).Get(id)
		if v == nil {
			return ErrNotFound
		}
		r, err := fromBolt(id, v)
		if err != nil {
			return err
		}
		return del(tx, r)
	})
}

// Close implements Store; it leaves the database open.
func (s *Bolt) Close() error { return nil }
