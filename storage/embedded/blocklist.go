package embedded

import (
	"context"
	"encoding/base64"
	"fmt"

	"github.com/xftp/xftp/blocklist"
	bolt "go.etcd.io/bbolt"
)

// boltBucket is the bucket the bbolt store keeps to itself, so that the
// server can share one database file between stores.
var boltBucket = []byte("blocklist")

// Blocklist is a blocklist.Store in the records database. Keys are kind (1 byte) ||
// SHA-256(value), values are stored entries; List walks them in key order.
type Blocklist struct {
	db *bolt.DB
}

var _ blocklist.Store = (*Blocklist)(nil)

// newBlocklist returns a store in the bucket "blocklist" of db, creating the
// bucket if needed. The caller keeps ownership of db and closes it after
// the store.
func newBlocklist(db *bolt.DB) (*Blocklist, error) {
	err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(boltBucket)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("blocklist: creating bucket: %w", err)
	}
	return &Blocklist{db: db}, nil
}

func boltKey(k blocklist.Key) []byte {
	h := k.Hash()
	return append([]byte{byte(k.Kind)}, h[:]...)
}

// Block implements Store.
func (s *Blocklist) Block(ctx context.Context, entries []blocklist.Entry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := blocklist.ValidateEntries(entries); err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(boltBucket)
		for i := range entries {
			if err := b.Put(boltKey(entries[i].Key), blocklist.MarshalEntry(&entries[i])); err != nil {
				return fmt.Errorf("blocklist: %w", err)
			}
		}
		return nil
	})
}

// Lookup implements Store.
func (s *Blocklist) Lookup(ctx context.Context, keys ...blocklist.Key) (*blocklist.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := blocklist.ValidateKeys(keys); err != nil {
		return nil, err
	}
	var e *blocklist.Entry
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(boltBucket)
		for _, k := range keys {
			if v := b.Get(boltKey(k)); v != nil {
				var err error
				e, err = blocklist.UnmarshalEntry(v) // copies: v is only valid inside tx
				return err
			}
		}
		return blocklist.ErrNotBlocked
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// Unblock implements Store.
func (s *Blocklist) Unblock(ctx context.Context, keys ...blocklist.Key) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := blocklist.ValidateKeys(keys); err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(boltBucket)
		for _, k := range keys {
			if err := b.Delete(boltKey(k)); err != nil {
				return fmt.Errorf("blocklist: %w", err)
			}
		}
		return nil
	})
}

// List implements Store. The cursor is the base64url form of the last
// bbolt key returned.
func (s *Blocklist) List(ctx context.Context, cursor string, limit int) ([]blocklist.Entry, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	limit = blocklist.ListLimit(limit)
	var after []byte
	if cursor != "" {
		var err error
		after, err = base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || len(after) != 1+32 {
			return nil, "", blocklist.ErrInvalidCursor
		}
	}
	var (
		entries []blocklist.Entry
		next    string
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(boltBucket).Cursor()
		for k, v := seekAfter(c, after); k != nil; k, v = c.Next() {
			if len(entries) == limit {
				next = base64.RawURLEncoding.EncodeToString(boltKey(entries[len(entries)-1].Key))
				return nil
			}
			e, err := blocklist.UnmarshalEntry(v)
			if err != nil {
				return err
			}
			entries = append(entries, *e)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return entries, next, nil
}

// Close implements Store; it leaves the database open.
func (s *Blocklist) Close() error { return nil }
