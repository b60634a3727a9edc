package blocklist

import (
	"bytes"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParse checks that Parse never panics and that whatever it accepts is
// canonical: Marshal returns the input, and re-encoding the record returns
// the signed bytes.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.txt")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		v, err := parseVector(name, b)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(v.data)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, pub, err := Parse(b)
		if err != nil {
			if s != nil || pub != nil {
				t.Fatal("Parse returned a record with an error")
			}
			return
		}
		if got := s.Marshal(); !bytes.Equal(got, b) {
			t.Fatalf("Marshal(Parse(b)) = %x, want %x", got, b)
		}
		if got := appendRecord(nil, &s.Record); !bytes.Equal(got, s.Raw) {
			t.Fatalf("re-encoded record = %x, want %x", got, s.Raw)
		}
		if err := s.Record.Validate(); err != nil {
			t.Fatalf("parsed record does not validate: %v", err)
		}
		if len(pub) != ed25519.PublicKeySize || len(s.Signature) != ed25519.SignatureSize {
			t.Fatal("bad key or signature length")
		}
		_ = s.Record.String()
		if _, err := Verify(b, s.Record.Server, s.Record.ChunkID); err == nil && len(s.Record.ChunkID) == 0 {
			t.Fatal("Verify accepted a record without a chunk ID")
		}
	})
}

// FuzzUnmarshalEntry checks the stored-entry decoder the same way.
func FuzzUnmarshalEntry(f *testing.F) {
	id := vectorIdentity(0xa1)
	for _, k := range []Key{{KindSender, []byte("snd")}, {KindDigest, []byte("digest")}} {
		r := Record{Reason: ReasonSpam, BlockedAt: time.Unix(1.7e9, 0)}
		if k.Kind != KindDigest {
			r.ChunkID = k.Value
		}
		s, err := Sign(id, r)
		if err != nil {
			f.Fatal(err)
		}
		e := &Entry{Key: k, Record: s}
		f.Add(MarshalEntry(e))
		if k.Kind != KindDigest {
			e.PublicKey = id.Public()
			f.Add(MarshalEntry(e))
		}
		// The first format, without a public key.
		old := MarshalEntry(&Entry{Key: k, Record: s})
		old = append(append([]byte{entryFormat1}, old[1:4+len(k.Value)]...), old[5+len(k.Value):]...)
		f.Add(old)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := UnmarshalEntry(b)
		if err != nil {
			return
		}
		got := MarshalEntry(e)
		if b[0] == entryFormat1 {
			// Read in the old format, written in the new one.
			e2, err := UnmarshalEntry(got)
			if err != nil || !bytes.Equal(MarshalEntry(e2), got) || len(e2.PublicKey) != 0 {
				t.Fatalf("an old-format entry does not survive rewriting: %v", err)
			}
			return
		}
		if !bytes.Equal(got, b) {
			t.Fatalf("MarshalEntry(UnmarshalEntry(b)) = %x, want %x", got, b)
		}
	})
}
