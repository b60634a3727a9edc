package blocklist_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/xftp/xftp/blocklist"
	"github.com/xftp/xftp/identity"
)

var blockedAt = time.Date(2025, 6, 1, 9, 30, 0, 0, time.UTC)

func baseRecord() blocklist.Record {
	return blocklist.Record{
		ChunkID:   []byte("chunk-id"),
		Reason:    blocklist.ReasonContent,
		BlockedAt: blockedAt,
	}
}

func TestSignVerify(t *testing.T) {
	id := testID()
	r := baseRecord()
	r.Notice = "notice"
	r.TTL = time.Hour
	r.Restrictions = []blocklist.Restriction{blocklist.RestrictNoUploads, blocklist.RestrictNoSenderFiles, blocklist.RestrictNoUploads}
	r.AppealCode = bytes.Repeat([]byte{7}, 16)
	r.BlockedAt = blockedAt.Add(700 * time.Millisecond).In(time.FixedZone("X", 3600))
	s, err := blocklist.Sign(id, r)
	if err != nil {
		t.Fatal(err)
	}
	got := s.Record
	if got.Version != blocklist.Version || got.Server != id.Fingerprint() {
		t.Errorf("Sign set version %d, server %s", got.Version, got.Server)
	}
	if !got.BlockedAt.Equal(blockedAt) || got.BlockedAt.Location() != time.UTC {
		t.Errorf("BlockedAt = %v, want %v", got.BlockedAt, blockedAt)
	}
	if len(got.Restrictions) != 2 || got.Restrictions[0] != blocklist.RestrictNoSenderFiles {
		t.Errorf("Restrictions = %q, want sorted and unique", got.Restrictions)
	}
	// The signed record shares no memory with the input.
	r.ChunkID[0] = 'X'
	r.AppealCode[0] = 0
	if got.ChunkID[0] != 'c' || got.AppealCode[0] != 7 {
		t.Error("signed record aliases the input")
	}

	b := s.Marshal()
	v, err := blocklist.Verify(b, id.Fingerprint(), []byte("chunk-id"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(v.Raw, s.Raw) || v.Record.Notice != "notice" || v.Record.TTL != time.Hour {
		t.Errorf("verified record differs: %+v", v.Record)
	}
	b[0] ^= 1 // Parse copies its input
	if v.Raw[0] != 'x' {
		t.Error("parsed record aliases the input")
	}

	// Marshal sends what was signed, whatever happens to Record later.
	s.Record.Reason = blocklist.ReasonSpam
	if _, err := blocklist.Verify(s.Marshal(), id.Fingerprint(), []byte("chunk-id")); err != nil {
		t.Errorf("Verify after editing Record: %v", err)
	}

	for _, asked := range [][]byte{nil, {}, []byte("chunk-i"), []byte("chunk-id\x00")} {
		if _, err := blocklist.Verify(s.Marshal(), id.Fingerprint(), asked); !errors.Is(err, blocklist.ErrWrongChunk) {
			t.Errorf("Verify for chunk %q = %v, want ErrWrongChunk", asked, err)
		}
	}
}

// A message signed with the same key for another purpose, like an identity
// challenge answer, is never a record. (The literal stands in for
// identity's challenge context so this test does not follow its API.)
func TestOtherSignaturesAreNotRecords(t *testing.T) {
	id := testID()
	msg := append([]byte("xftp identity challenge v1\x00"), bytes.Repeat([]byte{1}, 200)...)
	b := append(append(msg, id.Public()...), id.Sign(msg)...)
	if _, err := blocklist.Verify(b, id.Fingerprint(), []byte("chunk-id")); !errors.Is(err, blocklist.ErrMalformed) {
		t.Errorf("Verify of a challenge answer = %v, want ErrMalformed", err)
	}
}

func TestSignLimits(t *testing.T) {
	n := func(c byte, n int) string { return strings.Repeat(string(c), n) }
	restrictions := func(n int) []blocklist.Restriction {
		var rs []blocklist.Restriction
		for i := range n {
			rs = append(rs, blocklist.Restriction("r"+string(rune('a'+i))))
		}
		return rs
	}
	tests := []struct {
		name string
		edit func(r *blocklist.Record)
		ok   bool
	}{
		{"base", func(r *blocklist.Record) {}, true},
		{"digest template without chunk ID", func(r *blocklist.Record) { r.ChunkID = nil }, true},
		{"chunk ID 255", func(r *blocklist.Record) { r.ChunkID = make([]byte, 255) }, true},
		{"chunk ID 256", func(r *blocklist.Record) { r.ChunkID = make([]byte, 256) }, false},
		{"reason 32", func(r *blocklist.Record) { r.Reason = blocklist.Reason(n('a', 32)) }, true},
		{"reason 33", func(r *blocklist.Record) { r.Reason = blocklist.Reason(n('a', 33)) }, false},
		{"reason empty", func(r *blocklist.Record) { r.Reason = "" }, false},
		{"reason charset", func(r *blocklist.Record) { r.Reason = "a-z_0-9" }, true},
		{"reason space", func(r *blocklist.Record) { r.Reason = "a b" }, false},
		{"reason upper", func(r *blocklist.Record) { r.Reason = "Spam" }, false},
		{"notice 1024", func(r *blocklist.Record) { r.Notice = n('x', 1024) }, true},
		{"notice 1025", func(r *blocklist.Record) { r.Notice = n('x', 1025) }, false},
		{"notice 1024 multibyte", func(r *blocklist.Record) { r.Notice = strings.Repeat("é", 512) }, true},
		{"notice 1026 multibyte", func(r *blocklist.Record) { r.Notice = strings.Repeat("é", 513) }, false},
		{"notice not UTF-8", func(r *blocklist.Record) { r.Notice = "\xff" }, false},
		{"ttl seconds", func(r *blocklist.Record) { r.TTL = 90 * time.Second }, true},
		{"ttl fraction", func(r *blocklist.Record) { r.TTL = 1500 * time.Millisecond }, false},
		{"ttl negative", func(r *blocklist.Record) { r.TTL = -time.Second }, false},
		{"before 1970", func(r *blocklist.Record) { r.BlockedAt = time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC) }, false},
		{"zero time", func(r *blocklist.Record) { r.BlockedAt = time.Time{} }, false},
		{"16 restrictions", func(r *blocklist.Record) { r.Restrictions = restrictions(16) }, true},
		{"17 restrictions", func(r *blocklist.Record) { r.Restrictions = restrictions(17) }, false},
		{"restriction 33", func(r *blocklist.Record) { r.Restrictions = []blocklist.Restriction{blocklist.Restriction(n('a', 33))} }, false},
		{"restriction empty", func(r *blocklist.Record) { r.Restrictions = []blocklist.Restriction{""} }, false},
		{"appeal code 16", func(r *blocklist.Record) { r.AppealCode = make([]byte, 16) }, true},
		{"appeal code 15", func(r *blocklist.Record) { r.AppealCode = make([]byte, 15) }, false},
		{"appeal code 17", func(r *blocklist.Record) { r.AppealCode = make([]byte, 17) }, false},
		{"version 2", func(r *blocklist.Record) { r.Version = 2 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := baseRecord()
			tt.edit(&r)
			s, err := blocklist.Sign(testID(), r)
			if tt.ok != (err == nil) {
				t.Fatalf("Sign = %v, want ok=%v", err, tt.ok)
			}
			if err != nil {
				if !errors.Is(err, blocklist.ErrMalformed) {
					t.Errorf("error %v does not wrap ErrMalformed", err)
				}
				return
			}
			p, pub, err := blocklist.Parse(s.Marshal())
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !bytes.Equal(pub, s.PublicKey) || !bytes.Equal(p.Raw, s.Raw) {
				t.Error("Parse result differs from the signed record")
			}
		})
	}
}

func TestExpired(t *testing.T) {
	r := baseRecord()
	if r.Expired(blockedAt.Add(100 * 365 * 24 * time.Hour)) {
		t.Error("TTL 0 expired")
	}
	r.TTL = time.Hour
	for _, tt := range []struct {
		at   time.Duration
		want bool
	}{
		{-time.Second, false},
		{0, false},
		{time.Hour - time.Nanosecond, false},
		{time.Hour, true},
		{time.Hour + time.Second, true},
	} {
		if got := r.Expired(blockedAt.Add(tt.at)); got != tt.want {
			t.Errorf("Expired(blockedAt%+v) = %v, want %v", tt.at, got, tt.want)
		}
	}
}

func TestString(t *testing.T) {
	id := testID()
	short := id.Fingerprint().String()[:8]
	tests := []struct {
		edit func(r *blocklist.Record)
		want string
	}{
		{func(r *blocklist.Record) {}, "blocked by " + short + " for content"},
		{func(r *blocklist.Record) {
			r.Notice = "illegal material"
			r.Restrictions = []blocklist.Restriction{blocklist.RestrictNoUploads}
		}, "blocked by " + short + " for content: illegal material; restrictions: no uploads"},
		{func(r *blocklist.Record) {
			r.Reason = blocklist.ReasonSpam
			r.TTL = 24 * time.Hour
			r.Restrictions = []blocklist.Restriction{blocklist.RestrictNoSenderFiles, "other"}
		}, "blocked by " + short + " for spam; restrictions: no files from this sender, other until 2025-06-02T09:30:00Z"},
		{func(r *blocklist.Record) { r.Notice = "line\nbreak\x1b[31m\u202e" },
			"blocked by " + short + " for content: line\ufffdbreak\ufffd[31m\ufffd"},
	}
	for _, tt := range tests {
		r := baseRecord()
		tt.edit(&r)
		s, err := blocklist.Sign(id, r)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Record.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
		be := &blocklist.BlockedError{Record: s}
		if be.Error() != tt.want {
			t.Errorf("BlockedError = %q", be.Error())
		}
	}
}

func TestParseRejectsBadTail(t *testing.T) {
	s, err := blocklist.Sign(testID(), baseRecord())
	if err != nil {
		t.Fatal(err)
	}
	b := s.Marshal()
	n := len(s.Raw) + ed25519.PublicKeySize + ed25519.SignatureSize
	for _, size := range []int{0, len(s.Raw) - 1, len(s.Raw), len(s.Raw) + 1, n - 1, n + 1, n + 64} {
		in := make([]byte, size)
		copy(in, b)
		if _, _, err := blocklist.Parse(in); !errors.Is(err, blocklist.ErrMalformed) {
			t.Errorf("Parse of %d bytes = %v, want ErrMalformed", size, err)
		}
	}
}

func testID() *identity.Identity {
	return &identity.Identity{Key: ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))}
}
