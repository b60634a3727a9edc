package blocklist

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"time"
)

// recordContext starts the canonical bytes of every blocking record, so
// that no other message signed with the identity key can be taken for one.
const recordContext = "xftp blocking record v1\x00"

// appendRecord appends the canonical bytes of r to b; r must be valid.
// The layout is documented in doc.go.
func appendRecord(b []byte, r *Record) []byte {
	b = append(b, recordContext...)
	b = append(b, byte(r.Version))
	b = append(b, r.Server[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(r.BlockedAt.Unix()))
	b = binary.BigEndian.AppendUint64(b, uint64(r.TTL/time.Second))
	b = appendField(b, r.ChunkID)
	b = appendField(b, []byte(r.Reason))
	b = appendField(b, []byte(r.Notice))
	b = binary.BigEndian.AppendUint16(b, uint16(len(r.Restrictions)))
	for _, x := range r.Restrictions {
		b = appendField(b, []byte(x))
	}
	return appendField(b, r.AppealCode)
}

func appendField(b, v []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

// decoder reads the canonical encoding; the first error sticks.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
}

func (d *decoder) next(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.b)-d.off {
		d.fail("truncated %s", what)
		return nil
	}
	v := d.b[d.off : d.off+n : d.off+n]
	d.off += n
	return v
}

func (d *decoder) uint16(what string) int {
	v := d.next(2, what)
	if v == nil {
		return 0
	}
	return int(binary.BigEndian.Uint16(v))
}

func (d *decoder) uint64(what string) uint64 {
	v := d.next(8, what)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// field reads a length-prefixed field of at most max bytes; an empty field
// decodes as nil.
func (d *decoder) field(max int, what string) []byte {
	n := d.uint16(what + " length")
	if d.err == nil && n > max {
		d.fail("%s of %d bytes, at most %d", what, n, max)
	}
	v := d.next(n, what)
	if len(v) == 0 {
		return nil
	}
	return v
}

// decodeRecord decodes the canonical record at the start of b and returns
// it with its length. Anything that appendRecord would not have produced
// is an error wrapping ErrMalformed.
func decodeRecord(b []byte) (Record, int, error) {
	d := &decoder{b: b}
	var r Record
	if ctx := d.next(len(recordContext), "context"); ctx != nil && !bytes.Equal(ctx, []byte(recordContext)) {
		d.fail("not a blocking record")
	}
	if v := d.next(1, "version"); v != nil {
		r.Version = int(v[0])
		if r.Version != Version {
			d.fail("unknown version %d", r.Version)
		}
	}
	copy(r.Server[:], d.next(len(r.Server), "server"))
	at := d.uint64("blocked-at time")
	ttl := d.uint64("TTL")
	if d.err == nil && at > math.MaxInt64 {
		d.fail("blocked-at time out of range")
	}
	if d.err == nil && ttl > uint64(math.MaxInt64/int64(time.Second)) {
		d.fail("TTL out of range")
	}
	r.BlockedAt = time.Unix(int64(at), 0).UTC()
	r.TTL = time.Duration(ttl) * time.Second
	r.ChunkID = d.field(MaxChunkIDSize, "chunk ID")
	r.Reason = Reason(d.field(MaxReasonSize, "reason"))
	r.Notice = string(d.field(MaxNoticeSize, "notice"))
	n := d.uint16("restriction count")
	if d.err == nil && n > MaxRestrictions {
		d.fail("%d restrictions, at most %d", n, MaxRestrictions)
	}
	for i := 0; i < n && d.err == nil; i++ {
		r.Restrictions = append(r.Restrictions, Restriction(d.field(MaxRestrictionSize, "restriction")))
	}
	r.AppealCode = d.field(AppealCodeSize, "appeal code")
	if d.err != nil {
		return Record{}, 0, d.err
	}
	// Every remaining rule (names, UTF-8, ordering, sizes) is a validity
	// rule; with them the encoding of a record is unique.
	if err := r.Validate(); err != nil {
		return Record{}, 0, err
	}
	return r, d.off, nil
}
