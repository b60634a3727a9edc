package embedded

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/xftp/xftp/storage"
)

var (
	bucketChunks = []byte("chunks") // internal key -> JSON record (without its recipients)
	// bucketIDs: sender ID -> role byte || internal key; recipient ID ->
	// role byte || internal key || 4-byte sequence number.
	bucketIDs = []byte("ids")
	// bucketRecipients: internal key || 4-byte big-endian sequence number
	// -> flags byte || public key || recipient ID. A chunk's recipients
	// live apart from its record, so that a download reads one small
	// entry whatever the chunk's audience (10,000 recipients of a group
	// file), and the sequence keeps them in the order they were added.
	bucketRecipients = []byte("recipients")
	bucketExpiry     = []byte("expiry") // big-endian expiry (unix ns) || internal key -> nothing
	bucketMeta       = []byte("meta")
	// bucketSenderKeys: sender public key -> internal key, so that a
	// retried create finds the chunk its lost answer was about.
	bucketSenderKeys = []byte("senderkeys")
	metaBytes        = []byte("bytes")
	metaChunks       = []byte("chunks")
)

// Records is a storage.Records on bbolt.
type Records struct {
	db    *bolt.DB
	group *groupCommit // record writes share commits (group.go)
}

var _ storage.Records = (*Records)(nil)

// Open opens (creating if needed) the database at path. It fails after
// timeout if another process holds the file.
func Open(path string, timeout time.Duration) (*Records, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("record database %s is in use by another process", path)
	}
	if err != nil {
		return nil, fmt.Errorf("opening record database: %w", err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketChunks, bucketIDs, bucketExpiry, bucketMeta, bucketSenderKeys, bucketRecipients} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return migrateRecipients(tx)
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("opening record database: %w", err)
	}
	return &Records{db: db, group: &groupCommit{db: db}}, nil
}

// NewBlocklist returns the blocklist kept in r's file, in a bucket of its
// own. Close r after the blocklist.
func NewBlocklist(r *Records) (*Blocklist, error) { return newBlocklist(r.db) }

// NewReports returns the abuse reports kept in r's file, in buckets of
// their own; now (default time.Now) decides expiry. Close r after them.
func NewReports(r *Records, now func() time.Time) (*Reports, error) { return newReports(r.db, now) }

// seekAfter is the one way a list page starts: at the first key of c, or
// at the first key after the cursor's key after.
func seekAfter(c *bolt.Cursor, after []byte) (k, v []byte) {
	if after == nil {
		return c.First()
	}
	if k, v = c.Seek(after); k != nil && bytes.Equal(k, after) {
		return c.Next()
	}
	return k, v
}

// Close implements storage.Records.
func (r *Records) Close() error { return r.db.Close() }

// Ping implements storage.Records.
func (r *Records) Ping(ctx context.Context) error { return nil }

type diskRecord struct {
	SenderID  []byte `json:"s"`
	SenderKey []byte `json:"sk"`
	Size      int64  `json:"n"`
	Digest    []byte `json:"d"`
	// Recipients is where records written before bucketRecipients kept
	// their recipients; Open moves them out (migrateRecipients).
	Recipients []diskRecipent `json:"r,omitempty"`
	// Next is the sequence number of the next recipient added.
	Next       uint32 `json:"rn,omitempty"`
	Uploaded   bool   `json:"u,omitempty"`
	Body       string `json:"b,omitempty"` // Store name of the body (storage.Record.Body)
	CreatedAt  int64  `json:"c"`
	ExpiresAt  int64  `json:"e"`
	Downloaded int    `json:"dl,omitempty"` // recipient IDs that downloaded
	Acked      int    `json:"ak,omitempty"` // recipient IDs removed by ack
}

type diskRecipent struct {
	ID         []byte `json:"i"`
	Key        []byte `json:"k"`
	Downloaded bool   `json:"d,omitempty"` // counted in diskRecord.Downloaded
}

func encode(rec *storage.Record) ([]byte, error) {
	d := diskRecord{
		SenderID: rec.SenderID, SenderKey: rec.SenderKey, Size: rec.Size, Digest: rec.Digest[:],
		Uploaded: rec.Uploaded, Body: rec.Body, CreatedAt: rec.CreatedAt.UnixNano(), ExpiresAt: rec.ExpiresAt.UnixNano(),
	}
	d.Next = uint32(len(rec.Recipients))
	return json.Marshal(d)
}

func decodeDisk(b []byte) (*diskRecord, error) {
	var d diskRecord
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("corrupt record: %w", err)
	}
	return &d, nil
}

func decode(key string, b []byte) (*storage.Record, error) {
	d, err := decodeDisk(b)
	if err != nil {
		return nil, err
	}
	rec := &storage.Record{
		Key: key, SenderID: d.SenderID, SenderKey: d.SenderKey, Size: d.Size, Uploaded: d.Uploaded, Body: d.Body,
		CreatedAt: time.Unix(0, d.CreatedAt), ExpiresAt: time.Unix(0, d.ExpiresAt),
		Downloaded: d.Downloaded, Acked: d.Acked,
	}
	copy(rec.Digest[:], d.Digest)
	return rec, nil
}

func expiryKey(rec *storage.Record) []byte {
	k := binary.BigEndian.AppendUint64(nil, uint64(rec.ExpiresAt.UnixNano()))
	return append(k, rec.Key...)
}

func addMeta(tx *bolt.Tx, chunks, bytes int64) error {
	m := tx.Bucket(bucketMeta)
	for _, kv := range []struct {
		k []byte
		d int64
	}{{metaChunks, chunks}, {metaBytes, bytes}} {
		v := int64(0)
		if b := m.Get(kv.k); len(b) == 8 {
			v = int64(binary.BigEndian.Uint64(b))
		}
		if err := m.Put(kv.k, binary.BigEndian.AppendUint64(nil, uint64(v+kv.d))); err != nil {
			return err
		}
	}
	return nil
}

func usage(tx *bolt.Tx) storage.Usage {
	m := tx.Bucket(bucketMeta)
	var u storage.Usage
	if b := m.Get(metaChunks); len(b) == 8 {
		u.Chunks = int64(binary.BigEndian.Uint64(b))
	}
	if b := m.Get(metaBytes); len(b) == 8 {
		u.Bytes = int64(binary.BigEndian.Uint64(b))
	}
	return u
}

func idValue(role storage.Role, key string) []byte {
	return append([]byte{byte(role)}, key...)
}

const (
	keyLen         = 24 // storage.NewKey's
	seqLen         = 4
	flagDownloaded = 1
)

func recipientIDValue(key string, seq uint32) []byte {
	return binary.BigEndian.AppendUint32(idValue(storage.RoleRecipient, key), seq)
}

func recipientKey(key string, seq uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte(key), seq)
}

// putRecipient stores recipient number seq of the chunk with key.
func putRecipient(tx *bolt.Tx, key string, seq uint32, rc storage.Recipient, flags byte) error {
	v := append(append([]byte{flags}, rc.Key...), rc.ID...)
	return tx.Bucket(bucketRecipients).Put(recipientKey(key, seq), v)
}

func parseRecipient(v []byte) (rc storage.Recipient, flags byte, ok bool) {
	if len(v) < 1+ed25519.PublicKeySize {
		return rc, 0, false
	}
	return storage.Recipient{Key: bytes.Clone(v[1 : 1+ed25519.PublicKeySize]), ID: bytes.Clone(v[1+ed25519.PublicKeySize:])}, v[0], true
}

// recipientRef is where a recipient ID's entry lives: its chunk's key and
// sequence number; ok is false for a sender ID or a malformed entry.
func recipientRef(v []byte) (key string, seq uint32, ok bool) {
	if len(v) != 1+keyLen+seqLen || storage.Role(v[0]) != storage.RoleRecipient {
		return "", 0, false
	}
	return string(v[1 : 1+keyLen]), binary.BigEndian.Uint32(v[1+keyLen:]), true
}

// putRecipients stores rs as the recipients from sequence number next on,
// with their ID entries.
func putRecipients(tx *bolt.Tx, key string, next uint32, rs []storage.Recipient) error {
	ids := tx.Bucket(bucketIDs)
	for i, rc := range rs {
		seq := next + uint32(i)
		if err := ids.Put(rc.ID, recipientIDValue(key, seq)); err != nil {
			return err
		}
		if err := putRecipient(tx, key, seq, rc, 0); err != nil {
			return err
		}
	}
	return nil
}

func put(tx *bolt.Tx, rec *storage.Record) error {
	b, err := encode(rec)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketChunks).Put([]byte(rec.Key), b)
}

// get reads the record with key and all its recipients, in order.
func get(tx *bolt.Tx, key string) (*storage.Record, error) {
	b := tx.Bucket(bucketChunks).Get([]byte(key))
	if b == nil {
		return nil, storage.ErrNotFound
	}
	rec, err := decode(key, b)
	if err != nil {
		return nil, err
	}
	c := tx.Bucket(bucketRecipients).Cursor()
	prefix := []byte(key)
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		rc, _, ok := parseRecipient(v)
		if !ok {
			return nil, errors.New("corrupt recipient entry")
		}
		rec.Recipients = append(rec.Recipients, rc)
	}
	return rec, nil
}

// migrateRecipients moves the recipients of records written before
// bucketRecipients out of them. It runs at Open, once per old record.
func migrateRecipients(tx *bolt.Tx) error {
	var old []string
	err := tx.Bucket(bucketChunks).ForEach(func(k, v []byte) error {
		if bytes.Contains(v, []byte(`"r":[`)) {
			old = append(old, string(k))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, key := range old {
		d, err := getDisk(tx, key)
		if err != nil {
			return err
		}
		for i, rc := range d.Recipients {
			var flags byte
			if rc.Downloaded {
				flags = flagDownloaded
			}
			if err := tx.Bucket(bucketIDs).Put(rc.ID, recipientIDValue(key, uint32(i))); err != nil {
				return err
			}
			if err := putRecipient(tx, key, uint32(i), storage.Recipient{ID: rc.ID, Key: rc.Key}, flags); err != nil {
				return err
			}
		}
		d.Next, d.Recipients = uint32(len(d.Recipients)), nil
		if err := putDisk(tx, key, d); err != nil {
			return err
		}
	}
	return nil
}

// createCheck refuses a create that cannot succeed. Existence first: a
// retried create of a live chunk is ErrExists (the caller finds that chunk)
// even when the quota is spent.
func createCheck(tx *bolt.Tx, rec *storage.Record, quota int64) error {
	ids, skeys := tx.Bucket(bucketIDs), tx.Bucket(bucketSenderKeys)
	if tx.Bucket(bucketChunks).Get([]byte(rec.Key)) != nil || ids.Get(rec.SenderID) != nil || skeys.Get(rec.SenderKey) != nil {
		return storage.ErrExists
	}
	for _, rc := range rec.Recipients {
		if ids.Get(rc.ID) != nil {
			return storage.ErrExists
		}
	}
	if quota > 0 && usage(tx).Bytes+rec.Size > quota {
		return storage.ErrQuota
	}
	return nil
}

// Create implements storage.Records.
func (r *Records) Create(ctx context.Context, rec *storage.Record, quota int64) error {
	// Refuse from a read transaction what must fail anyway (a server at
	// its quota, a retry): a write that fails in a shared commit costs
	// the whole group a rollback and a second run (group.go).
	if err := r.db.View(func(tx *bolt.Tx) error { return createCheck(tx, rec, quota) }); err != nil {
		return err
	}
	return r.group.update(func(tx *bolt.Tx) error {
		if err := createCheck(tx, rec, quota); err != nil {
			return err
		}
		ids, skeys := tx.Bucket(bucketIDs), tx.Bucket(bucketSenderKeys)
		if err := ids.Put(rec.SenderID, idValue(storage.RoleSender, rec.Key)); err != nil {
			return err
		}
		if err := skeys.Put(rec.SenderKey, []byte(rec.Key)); err != nil {
			return err
		}
		if err := putRecipients(tx, rec.Key, 0, rec.Recipients); err != nil {
			return err
		}
		if err := tx.Bucket(bucketExpiry).Put(expiryKey(rec), nil); err != nil {
			return err
		}
		if err := put(tx, rec); err != nil {
			return err
		}
		return addMeta(tx, 1, rec.Size)
	})
}

// BySenderKey implements storage.Records.
func (r *Records) BySenderKey(ctx context.Context, k ed25519.PublicKey) (rec *storage.Record, err error) {
	err = r.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketSenderKeys).Get(k)
		if v == nil {
			return storage.ErrNotFound
		}
		rec, err = get(tx, string(v))
		return err
	})
	return rec, err
}

// Lookup implements storage.Records.
func (r *Records) Lookup(ctx context.Context, id []byte) (rec *storage.Record, role storage.Role, err error) {
	err = r.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketIDs).Get(id)
		if len(v) < 2 {
			return storage.ErrNotFound
		}
		role = storage.Role(v[0])
		key, seq, ok := recipientRef(v)
		if !ok {
			rec, err = get(tx, string(v[1:]))
			return err
		}
		// A recipient's lookup reads its own entry only.
		b := tx.Bucket(bucketChunks).Get([]byte(key))
		if b == nil {
			return storage.ErrNotFound
		}
		if rec, err = decode(key, b); err != nil {
			return err
		}
		rc, _, ok := parseRecipient(tx.Bucket(bucketRecipients).Get(recipientKey(key, seq)))
		if !ok {
			return storage.ErrNotFound
		}
		rec.Recipients = []storage.Recipient{rc}
		return nil
	})
	return rec, role, err
}

// AddRecipients implements storage.Records.
func (r *Records) AddRecipients(ctx context.Context, key string, rs []storage.Recipient) error {
	return r.group.update(func(tx *bolt.Tx) error {
		d, err := getDisk(tx, key)
		if err != nil {
			return err
		}
		ids := tx.Bucket(bucketIDs)
		for _, rc := range rs {
			if ids.Get(rc.ID) != nil {
				return storage.ErrExists
			}
		}
		if err := putRecipients(tx, key, d.Next, rs); err != nil {
			return err
		}
		d.Next += uint32(len(rs))
		return putDisk(tx, key, d)
	})
}

// SetUploaded implements storage.Records.
func (r *Records) SetUploaded(ctx context.Context, key, body string) (string, error) {
	var held string
	err := r.group.update(func(tx *bolt.Tx) error {
		d, err := getDisk(tx, key)
		if err != nil {
			return err
		}
		if d.Uploaded {
			held = d.Body
			if held == "" {
				held = key
			}
			return nil
		}
		d.Uploaded, d.Body, held = true, body, body
		return putDisk(tx, key, d)
	})
	if err != nil {
		return "", err
	}
	return held, nil
}

// RemoveRecipient implements storage.Records.
func (r *Records) RemoveRecipient(ctx context.Context, key string, id []byte) error {
	return r.group.update(func(tx *bolt.Tx) error {
		d, err := getDisk(tx, key)
		if err != nil {
			return err
		}
		rk, seq, ok := recipientRef(tx.Bucket(bucketIDs).Get(id))
		if !ok || rk != key {
			return storage.ErrNotFound
		}
		if err := tx.Bucket(bucketRecipients).Delete(recipientKey(key, seq)); err != nil {
			return err
		}
		d.Acked++
		if err := tx.Bucket(bucketIDs).Delete(id); err != nil {
			return err
		}
		return putDisk(tx, key, d)
	})
}

// MarkDownloaded implements storage.Records.
func (r *Records) MarkDownloaded(ctx context.Context, key string, id []byte) (first bool, err error) {
	// Most calls are repeat downloads that change nothing: answer those
	// from a read transaction, without a write commit (and its fsync).
	var marked bool
	err = r.db.View(func(tx *bolt.Tx) error {
		_, flags, err := recipientEntry(tx, key, id)
		marked = flags&flagDownloaded != 0
		return err
	})
	if err != nil || marked {
		return false, err
	}
	err = r.group.update(func(tx *bolt.Tx) error {
		first = false // the function may run again (group.go)
		d, err := getDisk(tx, key)
		if err != nil {
			return err
		}
		seq, flags, err := recipientEntry(tx, key, id)
		if err != nil || flags&flagDownloaded != 0 {
			return err
		}
		rc, _, _ := parseRecipient(tx.Bucket(bucketRecipients).Get(recipientKey(key, seq)))
		if err := putRecipient(tx, key, seq, rc, flags|flagDownloaded); err != nil {
			return err
		}
		d.Downloaded++
		first = true
		return putDisk(tx, key, d)
	})
	return first, err
}

// recipientEntry finds recipient id of the chunk with key: its sequence
// number and flags; ErrNotFound if the chunk has no such recipient.
func recipientEntry(tx *bolt.Tx, key string, id []byte) (seq uint32, flags byte, err error) {
	rk, seq, ok := recipientRef(tx.Bucket(bucketIDs).Get(id))
	if !ok || rk != key {
		return 0, 0, storage.ErrNotFound
	}
	_, flags, ok = parseRecipient(tx.Bucket(bucketRecipients).Get(recipientKey(key, seq)))
	if !ok {
		return 0, 0, storage.ErrNotFound
	}
	return seq, flags, nil
}

func getDisk(tx *bolt.Tx, key string) (*diskRecord, error) {
	b := tx.Bucket(bucketChunks).Get([]byte(key))
	if b == nil {
		return nil, storage.ErrNotFound
	}
	return decodeDisk(b)
}

func putDisk(tx *bolt.Tx, key string, d *diskRecord) error {
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketChunks).Put([]byte(key), b)
}

// Delete implements storage.Records.
func (r *Records) Delete(ctx context.Context, key string) (*storage.Record, error) {
	return r.delete(key, false)
}

// DeleteUnuploaded implements storage.Records.
func (r *Records) DeleteUnuploaded(ctx context.Context, key string) (*storage.Record, error) {
	return r.delete(key, true)
}

func (r *Records) delete(key string, onlyUnuploaded bool) (*storage.Record, error) {
	var out *storage.Record
	err := r.group.update(func(tx *bolt.Tx) error {
		out = nil // the function may run again (group.go)
		rec, err := get(tx, key)
		if err != nil {
			return err
		}
		if onlyUnuploaded && rec.Uploaded {
			return storage.ErrExists
		}
		ids := tx.Bucket(bucketIDs)
		if err := ids.Delete(rec.SenderID); err != nil {
			return err
		}
		for _, rc := range rec.Recipients {
			if err := ids.Delete(rc.ID); err != nil {
				return err
			}
		}
		if err := deleteRecipients(tx, key); err != nil {
			return err
		}
		if err := tx.Bucket(bucketExpiry).Delete(expiryKey(rec)); err != nil {
			return err
		}
		if skeys := tx.Bucket(bucketSenderKeys); string(skeys.Get(rec.SenderKey)) == key {
			if err := skeys.Delete(rec.SenderKey); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketChunks).Delete([]byte(key)); err != nil {
			return err
		}
		out = rec
		return addMeta(tx, -1, -rec.Size)
	})
	return out, err
}

// Expired implements storage.Records.
func (r *Records) Expired(ctx context.Context, now time.Time, limit int) ([]*storage.Record, error) {
	var out []*storage.Record
	err := r.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketExpiry).Cursor()
		for k, _ := c.First(); k != nil && len(out) < limit; k, _ = c.Next() {
			if len(k) < 8 || int64(binary.BigEndian.Uint64(k)) > now.UnixNano() {
				break
			}
			rec, err := get(tx, string(k[8:]))
			if errors.Is(err, storage.ErrNotFound) {
				continue // a stale index entry: skip it rather than block expiry
			}
			if err != nil {
				return err
			}
			out = append(out, rec)
		}
		return nil
	})
	return out, err
}

// Has implements storage.Records.
func (r *Records) Has(ctx context.Context, key string) (bool, error) {
	var ok bool
	err := r.db.View(func(tx *bolt.Tx) error {
		ok = tx.Bucket(bucketChunks).Get([]byte(key)) != nil
		return nil
	})
	return ok, err
}

// Usage implements storage.Records.
func (r *Records) Usage(ctx context.Context) (storage.Usage, error) {
	var u storage.Usage
	err := r.db.View(func(tx *bolt.Tx) error {
		u = usage(tx)
		return nil
	})
	return u, err
}

// deleteRecipients removes every recipient entry of the chunk with key.
func deleteRecipients(tx *bolt.Tx, key string) error {
	b := tx.Bucket(bucketRecipients)
	var keys [][]byte
	c := b.Cursor()
	prefix := []byte(key)
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
