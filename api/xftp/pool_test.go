package xftp

import (
	"bytes"
	"crypto/ed25519"
	"testing"
)

// checkClone checks that tr.Clone() holds tr's fields and keeps them when
// block, which tr was parsed from, is overwritten.
func checkClone(t *testing.T, block []byte, tr *Transmission) {
	t.Helper()
	c := tr.Clone()
	want := [][]byte{tr.Signature, tr.Authorized, tr.SessionID, tr.CorrID, tr.EntityID, tr.Command}
	want = func() [][]byte {
		out := make([][]byte, len(want))
		for i, v := range want {
			out[i] = bytes.Clone(v)
		}
		return out
	}()
	for i := range block {
		block[i] ^= 0xff
	}
	defer func() {
		for i := range block {
			block[i] ^= 0xff
		}
	}()
	got := [][]byte{c.Signature, c.Authorized, c.SessionID, c.CorrID, c.EntityID, c.Command}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("field %d of the clone: %x, want %x", i, got[i], want[i])
		}
	}
	// Appending to a field must not overwrite the next one.
	_ = append(c.SessionID, 0xee)
	if !bytes.Equal(c.CorrID, want[3]) {
		t.Fatal("appending to the clone's session ID overwrote its correlation ID")
	}
}

func TestTransmissionClone(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	for _, k := range []ed25519.PrivateKey{nil, key} {
		block, err := EncodeTransmission([]byte("session-id-0123456789abcdef01234"), []byte("corr"), []byte("entity"), []byte("FPUT"), k)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := ParseTransmission(block)
		if err != nil {
			t.Fatal(err)
		}
		checkClone(t, block, tr)
		if k != nil && !tr.Clone().Verify(key.Public().(ed25519.PublicKey)) {
			t.Fatal("the clone's signature does not verify")
		}
	}
}

// EncodeResponseInto writes every byte of the block: a reused buffer
// holding an earlier, longer answer gives the same block as a fresh one.
func TestEncodeResponseIntoReusedBuffer(t *testing.T) {
	session := bytes.Repeat([]byte{7}, 32)
	long := &Response{Tag: RIDS, RecipientIDs: [][]byte{bytes.Repeat([]byte{1}, 24), bytes.Repeat([]byte{2}, 24), bytes.Repeat([]byte{3}, 24)}}
	buf := make([]byte, BlockSize)
	for i := range buf {
		buf[i] = 0xaa
	}
	for _, r := range []*Response{long, {Tag: OK}, ErrResponse(ErrAuth), {Tag: PONG}} {
		if err := EncodeResponseInto(buf, session, []byte("c"), []byte("e"), r, VersionMax); err != nil {
			t.Fatal(err)
		}
		want, err := EncodeResponse(session, []byte("c"), []byte("e"), r, VersionMax)
		if err != nil {
			t.Fatal(err)
		}
		// And EncodeResponse is what Pad(batch(…)) made before.
		body, _ := r.Encode(VersionMax)
		old, err := batch(append(appendShort(appendShort(appendShort(appendShort(nil, nil), session), []byte("c")), []byte("e")), body...))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf, want) || !bytes.Equal(want, old) {
			t.Fatalf("%s: the reused buffer, EncodeResponse and Pad(batch(…)) differ", r.Tag)
		}
	}
	if err := EncodeResponseInto(make([]byte, 100), session, nil, nil, &Response{Tag: OK}, VersionMax); err == nil {
		t.Fatal("a short buffer was accepted")
	}
}

func BenchmarkEncodeResponse(b *testing.B) {
	session := bytes.Repeat([]byte{7}, 32)
	r := &Response{Tag: SIDS, SenderID: bytes.Repeat([]byte{1}, 24), RecipientIDs: [][]byte{bytes.Repeat([]byte{2}, 24)}}
	b.Run("new", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := EncodeResponse(session, []byte("c"), nil, r, VersionMax); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("into", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, BlockSize)
		for b.Loop() {
			if err := EncodeResponseInto(buf, session, []byte("c"), nil, r, VersionMax); err != nil {
				b.Fatal(err)
			}
		}
	})
}
