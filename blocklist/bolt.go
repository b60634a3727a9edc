//go:build !js

package blocklist

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"

	"go.etcd.io/bbolt"
)

// boltBucket is the bucket the bbolt store keeps to itself, so that the
// server can share one database file between stores.
var boltBucket = []byte("blocklist")

// Bolt is a Store in a bbolt database. Keys are kind (1 byte) ||
// SHA-256(value), values are stored entries; List walks them in key order.
type Bolt struct {
	db *bbolt.DB
}

var _ Store = (*Bolt)(nil)

// NewBolt returns a store in the bucket "blocklist" of db, creating the
// bucket if needed. The caller keeps ownership of db and closes it after
// the store.
func NewBolt(db *bbolt.DB) (*Bolt, error) {
	err := db.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(boltBucket)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("blocklist: creating bucket: %w", err)
	}
	return &Bolt{db: db}, nil
}

func boltKey(k Key) []byte {
	h := k.hash()
	return append([]byte{byte(k.Kind)}, h[:]...)
}

// Block implements Store.
func (s *Bolt) Block(ctx context.Context, entries []Entry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validateEntries(entries); err != nil {
		return err
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(boltBucket)
		for i := range entries {
			if err := b.Put(boltKey(entries[i].Key), marshalEntry(&entries[i])); err != nil {
				return fmt.Errorf("blocklist: %w", err)
			}
		}
		return nil
	})
}

// Lookup implements Store.
func (s *Bolt) Lookup(ctx context.Context, keys ...Key) (*Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := validateKeys(keys); err != nil {
		return nil, err
	}
	var e *Entry
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(boltBucket)
		for _, k := range keys {
			if v := b.Get(boltKey(k)); v != nil {
				var err error
				e, err = unmarshalEntry(v) // copies: v is only valid inside tx
				return err
			}
		}
		return ErrNotBlocked
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// Unblock implements Store.
func (s *Bolt) Unblock(ctx context.Context, keys ...Key) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validateKeys(keys); err != nil {
		return err
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
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
func (s *Bolt) List(ctx context.Context, cursor string, limit int) ([]Entry, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	limit = listLimit(limit)
	var after []byte
	if cursor != "" {
		var err error
		after, err = base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || len(after) != 1+32 {
			return nil, "", ErrInvalidCursor
		}
	}
	var (
		entries []Entry
		next    string
	)
	err := s.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(boltBucket).Cursor()
		var k, v []byte
		if after == nil {
			k, v = c.First()
		} else if k, v = c.Seek(after); k != nil && bytes.Equal(k, after) {
			k, v = c.Next()
		}
		for ; k != nil; k, v = c.Next() {
			if len(entries) == limit {
				next = base64.RawURLEncoding.EncodeToString(boltKey(entries[len(entries)-1].Key))
				return nil
			}
			e, err := unmarshalEntry(v)
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
func (s *Bolt) Close() error { return nil }
