package blocklist

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xftp/xftp/identity"
)

// Unblock proof vectors (testdata/unblock/*.txt) have the layout of the
// record vectors, with "case:" (hex of the appeal code of the restriction
// to lift) in place of "chunk:":
//
//	expect: success | malformed | bad signature | wrong server | wrong case
//	pinned: the fingerprint of the restriction's operator
//	case: hex of the restriction's appeal code
//	comment: free text

var expectProofErrors = map[string]error{
	"success":       nil,
	"malformed":     ErrMalformedProof,
	"bad signature": ErrBadSignature,
	"wrong server":  ErrWrongServer,
	"wrong case":    ErrWrongCase,
}

type proofVector struct {
	name, expect, comment string
	pinned                identity.Fingerprint
	code, data            []byte
}

func (v *proofVector) encode() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "expect: %s\npinned: %s\ncase: %x\ncomment: %s\n\n", v.expect, v.pinned, v.code, v.comment)
	h := hex.EncodeToString(v.data)
	for len(h) > 64 {
		b.WriteString(h[:64] + "\n")
		h = h[64:]
	}
	b.WriteString(h + "\n")
	return b.Bytes()
}

func parseProofVector(name string, file []byte) (*proofVector, error) {
	v := &proofVector{name: name}
	sc := bufio.NewScanner(bytes.NewReader(file))
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
			if _, ok := expectProofErrors[val]; !ok {
				return nil, fmt.Errorf("unknown expect %q", val)
			}
			v.expect = val
		case "pinned":
			v.pinned, err = identity.ParseFingerprint(val)
		case "case":
			v.code, err = hex.DecodeString(val)
		case "comment":
			v.comment = val
		default:
			return nil, fmt.Errorf("unknown header %q", key)
		}
		if err != nil {
			return nil, err
		}
	}
	if v.expect == "" {
		return nil, errors.New("no expect line")
	}
	var err error
	v.data, err = hex.DecodeString(body.String())
	return v, err
}

func generateProofVectors(t testing.TB) []*proofVector {
	serverA, serverB := vectorIdentity(0xa1), vectorIdentity(0xb2)
	fpA, fpB := serverA.Fingerprint(), serverB.Fingerprint()
	code := []byte("appeal-code-0123") // the code of the record vectors
	other := []byte("appeal-code-4567")
	at := time.Date(2025, 6, 20, 8, 0, 0, 0, time.UTC)
	valid, err := SignUnblock(serverA, code, at)
	if err != nil {
		t.Fatal(err)
	}
	w := valid.Marshal()
	flip := func(i int) []byte {
		b := bytes.Clone(w)
		b[i] ^= 1
		return b
	}
	// resign edits the canonical bytes and signs them properly.
	resign := func(id *identity.Identity, edit func(raw []byte)) []byte {
		raw := bytes.Clone(valid.Raw)
		edit(raw)
		return wire(raw, id.Public(), id.Sign(raw))
	}
	v := func(name, expect, comment string, pinned identity.Fingerprint, c, data []byte) *proofVector {
		return &proofVector{name: name, expect: expect, comment: comment, pinned: pinned, code: c, data: data}
	}
	codeOff := len(unblockContext) + 1 + 32
	otherB, _ := SignUnblock(serverB, code, at)
	return []*proofVector{
		v("valid", "success", "proof by server A for the case of the restriction", fpA, code, w),
		v("other_case", "wrong case", "valid proof of server A, for another case of the same operator", fpA, other, w),
		v("other_server", "wrong server", "valid proof of server A presented for server B's restriction with the same code", fpB, code, w),
		v("other_server_signed", "wrong server", "server B's own proof for a code server A used", fpA, code, otherB.Marshal()),
		v("retargeted_case", "bad signature", "appeal code edited to another case, signature unchanged",
			fpA, other, wire(func() []byte { r := bytes.Clone(valid.Raw); copy(r[codeOff:], other); return r }(), valid.PublicKey, valid.Signature)),
		v("retargeted_server", "bad signature", "server field and key changed to B, signature still A's",
			fpB, code, wire(func() []byte { r := bytes.Clone(valid.Raw); copy(r[len(unblockContext)+1:], fpB[:]); return r }(), serverB.Public(), valid.Signature)),
		v("forged_signature", "bad signature", "one bit of the signature flipped", fpA, code, flip(len(w)-1)),
		v("forged_key", "wrong server", "one bit of the public key flipped", fpA, code, flip(unblockSize)),
		v("blocking_record", "malformed", "a blocking record is not an unblock proof", fpA, code,
			func() []byte {
				s, _ := Sign(serverA, Record{ChunkID: []byte("x"), Reason: ReasonSpam, BlockedAt: at, AppealCode: code})
				return s.Marshal()
			}()),
		v("wrong_context", "malformed", "context string changed, properly signed", fpA, code, resign(serverA, func(r []byte) { r[0] ^= 1 })),
		v("unknown_version", "malformed", "version 2, properly signed", fpA, code, resign(serverA, func(r []byte) { r[len(unblockContext)] = 2 })),
		v("time_out_of_range", "malformed", "granted-at beyond int64, properly signed", fpA, code,
			resign(serverA, func(r []byte) { binary.BigEndian.PutUint64(r[codeOff+AppealCodeSize:], 1<<63) })),
		v("truncated", "malformed", "last byte missing", fpA, code, w[:len(w)-1]),
		v("trailing_garbage", "malformed", "one byte too many", fpA, code, append(bytes.Clone(w), 0)),
		v("empty", "malformed", "no bytes", fpA, code, nil),
	}
}

func TestUnblockVectors(t *testing.T) {
	gen := generateProofVectors(t)
	dir := filepath.Join("testdata", "unblock")
	if *update {
		os.MkdirAll(dir, 0o755)
		old, _ := filepath.Glob(filepath.Join(dir, "*.txt"))
		for _, f := range old {
			os.Remove(f)
		}
		for _, v := range gen {
			if err := os.WriteFile(filepath.Join(dir, v.name+".txt"), v.encode(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.txt"))
	if len(files) != len(gen) {
		t.Errorf("%s has %d vectors, the generator makes %d; run go test -run TestUnblockVectors -update", dir, len(files), len(gen))
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
				t.Errorf("%s differs from the generator; run go test -run TestUnblockVectors -update if the format changed on purpose", f)
			}
			v, err := parseProofVector(name, file)
			if err != nil {
				t.Fatal(err)
			}
			checkProofVector(t, v)
		})
	}
}

func checkProofVector(t *testing.T, v *proofVector) {
	wantErr := expectProofErrors[v.expect]
	p, err := ParseUnblockProof(v.data)
	if err == nil {
		err = VerifyUnblock(p, v.pinned, v.code)
	}
	if wantErr == nil {
		if err != nil {
			t.Fatalf("verify: %v, want success", err)
		}
		if !bytes.Equal(p.Marshal(), v.data) {
			t.Error("Marshal differs from the input")
		}
		q, err := ParseUnblockText(p.String())
		if err != nil || !bytes.Equal(q.Marshal(), v.data) {
			t.Errorf("text form does not round-trip: %v", err)
		}
		return
	}
	for exp, e := range expectProofErrors {
		if e != nil && exp != v.expect && errors.Is(err, e) {
			t.Fatalf("verify: %v, want %v", err, wantErr)
		}
	}
	if !errors.Is(err, wantErr) {
		t.Fatalf("verify: %v, want %v", err, wantErr)
	}
}

func TestUnblockText(t *testing.T) {
	for _, s := range []string{"", "xftp:unblock:", "xftp:unblock:!!", "xftp:file:abc", "xftp:unblock:" + strings.Repeat("A", 234) + "="} {
		if _, err := ParseUnblockText(s); !errors.Is(err, ErrMalformedProof) {
			t.Errorf("ParseUnblockText(%q) = %v, want ErrMalformedProof", s, err)
		}
	}
	if _, err := SignUnblock(vectorIdentity(1), []byte("short"), time.Now()); !errors.Is(err, ErrMalformedProof) {
		t.Errorf("SignUnblock with a short code: %v", err)
	}
}

// FuzzParseUnblockProof checks that the parser never panics and that what
// it accepts is canonical.
func FuzzParseUnblockProof(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "unblock", "*.txt"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		v, err := parseProofVector(name, b)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(v.data)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseUnblockProof(b)
		if err != nil {
			if p != nil {
				t.Fatal("a proof with an error")
			}
			return
		}
		if !bytes.Equal(p.Marshal(), b) {
			t.Fatal("Marshal(Parse(b)) != b")
		}
		if !bytes.Equal(appendUnblock(nil, &p.Proof), p.Raw) {
			t.Fatal("re-encoding differs")
		}
		q, err := ParseUnblockText(p.String())
		if err != nil || !bytes.Equal(q.Marshal(), b) {
			t.Fatal("text form does not round-trip")
		}
	})
}
