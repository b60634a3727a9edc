package blocklist

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xftp/xftp/identity"
)

var update = flag.Bool("update", false, "rewrite the test vectors in testdata/")

// Test vector files (testdata/*.txt) hold header lines, an empty line and
// the wire bytes in hex, 64 digits a line:
//
//	expect: success | malformed | bad signature | wrong server | wrong chunk
//	pinned: the fingerprint the client pinned
//	chunk: hex of the chunk ID the client asked about
//	string: Record.String() of the verified record (success only)
//	comment: free text
//
// They are made by generateVectors from fixed keys, so -update rewrites
// them byte for byte; a normal run checks the files against the generator
// too, so a change of the encoding cannot go unnoticed.

var expectErrors = map[string]error{
	"success":       nil,
	"malformed":     ErrMalformed,
	"bad signature": ErrBadSignature,
	"wrong server":  ErrWrongServer,
	"wrong chunk":   ErrWrongChunk,
}

type vector struct {
	name    string
	expect  string
	pinned  identity.Fingerprint
	chunk   []byte
	str     string // for success
	comment string
	data    []byte
}

func (v *vector) encode() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "expect: %s\n", v.expect)
	fmt.Fprintf(&b, "pinned: %s\n", v.pinned)
	fmt.Fprintf(&b, "chunk: %x\n", v.chunk)
	if v.str != "" {
		fmt.Fprintf(&b, "string: %s\n", v.str)
	}
	fmt.Fprintf(&b, "comment: %s\n\n", v.comment)
	h := hex.EncodeToString(v.data)
	for len(h) > 64 {
		b.WriteString(h[:64] + "\n")
		h = h[64:]
	}
	b.WriteString(h + "\n")
	return b.Bytes()
}

func parseVector(name string, file []byte) (*vector, error) {
	v := &vector{name: name}
	sc := bufio.NewScanner(bytes.NewReader(file))
	sc.Buffer(nil, 1<<20)
	var body strings.Builder
	inBody := false
	for sc.Scan() {
		line := sc.Text()
		if inBody {
			body.WriteString(line)
			continue
		}
		if line == "" {
			inBody = true
			continue
		}
		key, val, ok := strings.Cut(line, ": ")
		if !ok {
			return nil, fmt.Errorf("bad header line %q", line)
		}
		var err error
		switch key {
		case "expect":
			if _, ok := expectErrors[val]; !ok {
				return nil, fmt.Errorf("unknown expect %q", val)
			}
			v.expect = val
		case "pinned":
			v.pinned, err = identity.ParseFingerprint(val)
		case "chunk":
			v.chunk, err = hex.DecodeString(val)
		case "string":
			v.str = val
		case "comment":
			v.comment = val
		default:
			return nil, fmt.Errorf("unknown header %q", key)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if v.expect == "" {
		return nil, errors.New("no expect line")
	}
	var err error
	v.data, err = hex.DecodeString(body.String())
	return v, err
}

// Vector keys come from fixed seeds, so signatures are reproducible.
func vectorIdentity(seed byte) *identity.Identity {
	return &identity.Identity{Key: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))}
}

// signRaw signs r's encoding without validating r, to make records that
// are correctly signed but not canonical.
func signRaw(id *identity.Identity, r Record) []byte {
	raw := appendRecord(nil, &r)
	return wire(raw, id.Public(), id.Sign(raw))
}

func wire(raw, pub, sig []byte) []byte {
	return slices.Concat(raw, pub, sig)
}

func generateVectors(t testing.TB) []*vector {
	serverA, serverB := vectorIdentity(0xa1), vectorIdentity(0xb2)
	fpA, fpB := serverA.Fingerprint(), serverB.Fingerprint()
	chunk := []byte("recipient-id-0123456789a") // 24 bytes, like a real ID
	other := []byte("recipient-id-0123456789b")

	full := Record{
		ChunkID:      chunk,
		Reason:       ReasonContent,
		Notice:       "Removed after a court order (case 2025-17).",
		BlockedAt:    time.Date(2025, 6, 1, 9, 30, 0, 0, time.UTC),
		TTL:          30 * 24 * time.Hour,
		Restrictions: []Restriction{RestrictNoSenderFiles, RestrictNoUploads},
		AppealCode:   []byte("appeal-code-0123"),
	}
	sign := func(id *identity.Identity, r Record) *SignedRecord {
		s, err := Sign(id, r)
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}
		return s
	}
	valid := sign(serverA, full)
	validWire := valid.Marshal()
	// tamperRaw re-encodes the valid record after edit.
	tamperRaw := func(edit func(r *Record)) []byte {
		r := valid.Record
		r.Restrictions = slices.Clone(r.Restrictions)
		edit(&r)
		return appendRecord(nil, &r)
	}
	// tamper is tamperRaw with the valid record's key and signature.
	tamper := func(edit func(r *Record)) []byte {
		return wire(tamperRaw(edit), valid.PublicKey, valid.Signature)
	}
	// raw signs an edited record properly, skipping validation.
	raw := func(edit func(r *Record)) []byte {
		r := valid.Record
		r.Restrictions = slices.Clone(r.Restrictions)
		edit(&r)
		return signRaw(serverA, r)
	}
	flip := func(b []byte, i int) []byte {
		b = bytes.Clone(b)
		b[i] ^= 0x01
		return b
	}
	ok := func(name, comment string, s *SignedRecord) *vector {
		return &vector{name: name, expect: "success", pinned: s.Record.Server, chunk: s.Record.ChunkID,
			str: s.Record.String(), comment: comment, data: s.Marshal()}
	}
	bad := func(name, expect, comment string, data []byte) *vector {
		return &vector{name: name, expect: expect, pinned: fpA, chunk: chunk, comment: comment, data: data}
	}

	minimal := sign(serverA, Record{ChunkID: chunk, Reason: ReasonSpam, BlockedAt: full.BlockedAt})
	operator := sign(serverA, Record{
		ChunkID:      []byte{0, 1, 2, 0xff},
		Reason:       "phishing_2",
		Notice:       "Hameçonnage — contactez abuse@example.org\nligne 2",
		BlockedAt:    time.Unix(0, 0),
		Restrictions: []Restriction{RestrictNoUploads, "z-future-restriction"},
	})

	retargeted := bad("retargeted_server", "wrong server",
		"valid record from server A, verified by a client that pinned server B", validWire)
	retargeted.pinned = fpB
	keySwap := bad("key_swapped", "wrong server",
		"server A's record with server B's key, pinned B: the record still names A",
		wire(valid.Raw, serverB.Public(), valid.Signature))
	keySwap.pinned = fpB
	serverSwap := bad("tampered_server", "bad signature",
		"server field and key changed to server B, signature still A's, pinned B",
		wire(tamperRaw(func(r *Record) { r.Server = fpB }), serverB.Public(), valid.Signature))
	serverSwap.pinned = fpB
	wrongChunk := bad("wrong_chunk", "wrong chunk",
		"valid record for another recipient ID than the one asked about", validWire)
	wrongChunk.chunk = other
	chunkEdit := bad("tampered_chunk_id", "bad signature",
		"chunk ID edited to the ID asked about, signature unchanged",
		tamper(func(r *Record) { r.ChunkID = other }))
	chunkEdit.chunk = other
	digest := sign(serverA, Record{Reason: ReasonContent, BlockedAt: full.BlockedAt})
	template := bad("digest_template", "wrong chunk",
		"a digest entry's record names no chunk ID and is never valid for a client", digest.Marshal())

	long := strings.Repeat("x", MaxNoticeSize+1)
	vs := []*vector{
		ok("valid", "all fields set", valid),
		ok("valid_minimal", "only the required fields", minimal),
		ok("valid_operator_reason", "operator-defined reason, unknown restriction, epoch time, non-ASCII notice", operator),
		bad("forged_signature", "bad signature", "one bit of the signature flipped", flip(validWire, len(validWire)-1)),
		bad("forged_key", "wrong server", "one bit of the public key flipped", flip(validWire, len(valid.Raw))),
		bad("truncated", "malformed", "last byte of the signature missing", validWire[:len(validWire)-1]),
		bad("truncated_record", "malformed", "cut inside the notice", validWire[:len(recordContext)+1+32+8+8+2+len(chunk)+2+7+2+5]),
		bad("empty", "malformed", "no bytes", nil),
		bad("trailing_garbage", "malformed", "one byte after the signature", append(bytes.Clone(validWire), 0)),
		retargeted, keySwap, serverSwap, wrongChunk, chunkEdit, template,
		bad("tampered_reason", "bad signature", "reason changed to spam", tamper(func(r *Record) { r.Reason = ReasonSpam })),
		bad("tampered_ttl", "bad signature", "TTL removed", tamper(func(r *Record) { r.TTL = 0 })),
		bad("tampered_restrictions", "bad signature", "no_uploads removed", tamper(func(r *Record) { r.Restrictions = r.Restrictions[:1] })),
		bad("tampered_blocked_at", "bad signature", "blocked-at moved a second", flip(validWire, len(recordContext)+1+32+7)),
		bad("unknown_version", "malformed", "version 2, properly signed", raw(func(r *Record) { r.Version = 2 })),
		bad("wrong_context", "malformed", "context string of another signature", flip(validWire, 0)),
		bad("unsorted_restrictions", "malformed", "restrictions out of order, properly signed",
			raw(func(r *Record) { slices.Reverse(r.Restrictions) })),
		bad("duplicate_restrictions", "malformed", "a restriction twice, properly signed",
			raw(func(r *Record) { r.Restrictions = []Restriction{RestrictNoUploads, RestrictNoUploads} })),
		bad("bad_reason", "malformed", "upper-case reason, properly signed", raw(func(r *Record) { r.Reason = "Spam" })),
		bad("empty_reason", "malformed", "empty reason, properly signed", raw(func(r *Record) { r.Reason = "" })),
		bad("notice_not_utf8", "malformed", "notice is not UTF-8, properly signed", raw(func(r *Record) { r.Notice = "caf\xe9" })),
		bad("notice_too_long", "malformed", "notice of 1025 bytes, properly signed", raw(func(r *Record) { r.Notice = long })),
		bad("appeal_code_length", "malformed", "appeal code of 8 bytes, properly signed", raw(func(r *Record) { r.AppealCode = r.AppealCode[:8] })),
		bad("ttl_out_of_range", "malformed", "TTL of 0x7f7f7f7f7f7f7f7f seconds, more than time.Duration holds; properly signed",
			ttlOverflow(serverA, valid.Raw)),
	}
	return vs
}

// ttlOverflow returns raw with its TTL field set to a value time.Duration
// cannot hold, signed by id.
func ttlOverflow(id *identity.Identity, raw []byte) []byte {
	b := bytes.Clone(raw)
	off := len(recordContext) + 1 + 32 + 8
	copy(b[off:off+8], bytes.Repeat([]byte{0x7f}, 8))
	return wire(b, id.Public(), id.Sign(b))
}

func TestVectors(t *testing.T) {
	gen := generateVectors(t)
	if *update {
		old, _ := filepath.Glob("testdata/*.txt")
		for _, f := range old {
			os.Remove(f)
		}
		for _, v := range gen {
			if err := os.WriteFile(filepath.Join("testdata", v.name+".txt"), v.encode(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(gen) {
		t.Errorf("testdata has %d vectors, the generator makes %d; run go test -run TestVectors -update", len(files), len(gen))
	}
	want := map[string][]byte{}
	for _, v := range gen {
		want[v.name] = v.encode()
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".txt")
		t.Run(name, func(t *testing.T) {
			file, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(file, want[name]) {
				t.Errorf("%s differs from the generator; if the format changed on purpose, run go test -run TestVectors -update", f)
			}
			v, err := parseVector(name, file)
			if err != nil {
				t.Fatalf("reading %s: %v", f, err)
			}
			checkVector(t, v)
		})
	}
}

func checkVector(t *testing.T, v *vector) {
	s, err := Verify(v.data, v.pinned, v.chunk)
	wantErr := expectErrors[v.expect]
	if wantErr == nil {
		if err != nil {
			t.Fatalf("Verify: %v, want success", err)
		}
		if got := s.Record.String(); got != v.str {
			t.Errorf("String() = %q, want %q", got, v.str)
		}
		if !bytes.Equal(s.Marshal(), v.data) {
			t.Error("Marshal of the verified record differs from the input")
		}
		return
	}
	if s != nil {
		t.Errorf("Verify returned a record with an error")
	}
	for exp, e := range expectErrors {
		if e != nil && exp != v.expect && errors.Is(err, e) {
			t.Fatalf("Verify: %v, want %v", err, wantErr)
		}
	}
	if !errors.Is(err, wantErr) {
		t.Fatalf("Verify: %v, want %v", err, wantErr)
	}
	// Malformed inputs must fail in Parse already, everything else must
	// parse and fail only on the checks.
	_, _, perr := Parse(v.data)
	if (wantErr == ErrMalformed) != (perr != nil) {
		t.Fatalf("Parse: %v", perr)
	}
}
