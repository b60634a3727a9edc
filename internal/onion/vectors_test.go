package onion

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/xftp/xftp/internal/stream"
)

// testdata/vectors.json and testdata/route-answer.bin are made by
// testdata/gen/gen.mjs, an implementation of docs/PROXY.md's wire format
// written from the document with Node's own crypto. Each test below checks
// both directions where the format allows: Go reads what Node wrote, and
// Go, given the vector's fixed keys and salts, writes the same bytes.

type hexBytes []byte

func (h *hexBytes) UnmarshalText(b []byte) error {
	v, err := hex.DecodeString(string(b))
	*h = v
	return err
}

type b64Bytes []byte

func (h *b64Bytes) UnmarshalText(b []byte) error {
	v, err := base64.RawURLEncoding.DecodeString(string(b))
	*h = v
	return err
}

type named struct {
	Name    string
	Encoded hexBytes
}

type answerVector struct {
	Name         string
	Status       int
	Date         int64
	RetryAfter   uint32   `json:"retry_after"`
	Identity     hexBytes `json:"identity"`
	ServerKey    hexBytes `json:"server_key"`
	KeySignature hexBytes `json:"key_signature"`
	BodyLength   uint64   `json:"body_length"`
	Encoded      hexBytes
}

type linkVector struct {
	ResponseKeys []hexBytes `json:"response_keys"`
	Salts        []hexBytes
	Answer       hexBytes
	Refusal      hexBytes
	Body         string
	Encoded      hexBytes
	File         string
	Size         int
	SHA256       hexBytes
	BodySize     uint64   `json:"body_size"`
	BodySHA256   hexBytes `json:"body_sha256"`
}

type vectorFile struct {
	Destination struct {
		IdentityPublic b64Bytes `json:"identity_public"`
		Address        string
	}
	Proxies []struct {
		IdentitySeed   hexBytes `json:"identity_seed"`
		IdentityPublic b64Bytes `json:"identity_public"`
		Address        string
		ProxyPrivate   hexBytes `json:"proxy_private"`
		ProxyPublic    b64Bytes `json:"proxy_public"`
		KeyMessage     hexBytes `json:"key_message"`
		Signature      b64Bytes
		KeyResponse    string `json:"key_response"`
	}
	Layers []struct {
		Name             string
		Proxy            int
		EphemeralPrivate hexBytes `json:"ephemeral_private"`
		ResponseKey      hexBytes `json:"response_key"`
		Kind             Kind
		Next             string
		Inner, Plaintext hexBytes
		Sealed           hexBytes
	}
	BadLayers []struct {
		Name string
		// Plaintext and EphemeralPrivate are set for layers sealed
		// well around a plaintext that is not a layer.
		Plaintext        hexBytes
		EphemeralPrivate hexBytes `json:"ephemeral_private"`
		Sealed           hexBytes
	} `json:"bad_layers"`
	Requests []struct {
		Name, Path, Auth, Body string
		Encoded                hexBytes
	}
	BadRequests []named `json:"bad_requests"`
	Answers     []answerVector
	BadAnswers  []named `json:"bad_answers"`
	Refusals    []struct {
		Name    string
		Status  int
		Code    string
		Encoded hexBytes
	}
	BadRefusals []named `json:"bad_refusals"`
	AnswerKeys  []struct {
		ResponseKey hexBytes `json:"response_key"`
		Salt, Key   hexBytes
	} `json:"answer_keys"`
	Streams struct {
		Route, Refused, Key linkVector
	}
}

func loadVectors(t testing.TB) *vectorFile {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectorFile
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return &v
}

func proxyKeys(t testing.TB, v *vectorFile) []*ecdh.PrivateKey {
	t.Helper()
	var keys []*ecdh.PrivateKey
	for _, p := range v.Proxies {
		k, err := ProxyKey(ed25519.NewKeyFromSeed(p.IdentitySeed))
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	return keys
}

func TestProxyKeyVectors(t *testing.T) {
	v := loadVectors(t)
	keys := proxyKeys(t, v)
	for i, p := range v.Proxies {
		id := ed25519.NewKeyFromSeed(p.IdentitySeed)
		k := keys[i]
		if !bytes.Equal(id.Public().(ed25519.PublicKey), p.IdentityPublic) || !bytes.Equal(k.Bytes(), p.ProxyPrivate) ||
			!bytes.Equal(k.PublicKey().Bytes(), p.ProxyPublic) {
			t.Fatalf("proxy %d: private key %x, public %x", i, k.Bytes(), k.PublicKey().Bytes())
		}
		m := ProxyKeyMessage(k.PublicKey().Bytes())
		if !bytes.Equal(m, p.KeyMessage) || !bytes.Equal(ed25519.Sign(id, m), p.Signature) {
			t.Fatalf("proxy %d: message %x", i, m)
		}
	}
}

func TestLayerVectors(t *testing.T) {
	v := loadVectors(t)
	keys := proxyKeys(t, v)
	for _, lv := range v.Layers {
		want := Layer{Kind: lv.Kind, Next: lv.Next, Inner: lv.Inner}
		copy(want.ResponseKey[:], lv.ResponseKey)
		if got := want.Marshal(); !bytes.Equal(got, lv.Plaintext) {
			t.Errorf("%s: plaintext differs\n got %x\nwant %x", lv.Name, got, lv.Plaintext)
		}
		got, err := Open(keys[lv.Proxy], lv.Sealed)
		if err != nil {
			t.Errorf("%s: %v", lv.Name, err)
			continue
		}
		if got.ResponseKey != want.ResponseKey || got.Kind != want.Kind || got.Next != want.Next || !bytes.Equal(got.Inner, want.Inner) {
			t.Errorf("%s: opened %+v", lv.Name, got)
		}
		eph, err := ecdh.X25519().NewPrivateKey(lv.EphemeralPrivate)
		if err != nil {
			t.Fatal(err)
		}
		sealed, err := seal(eph, keys[lv.Proxy].PublicKey().Bytes(), want.Marshal())
		if err != nil || !bytes.Equal(sealed, lv.Sealed) {
			t.Errorf("%s: sealed differs (%v)", lv.Name, err)
		}
	}
	// The route: the outer layer's inner is the inner layer, sealed to P2.
	if !bytes.Equal(v.Layers[1].Inner, v.Layers[0].Sealed) || v.Layers[1].Next != v.Proxies[1].Address ||
		v.Layers[0].Next != v.Destination.Address {
		t.Error("the route's layers do not nest")
	}
}

func TestBadLayerVectors(t *testing.T) {
	v := loadVectors(t)
	p1 := proxyKeys(t, v)[0]
	for _, lv := range v.BadLayers {
		if l, err := Open(p1, lv.Sealed); !errors.Is(err, ErrLayer) {
			t.Errorf("%s: opened (%+v, %v)", lv.Name, l, err)
		}
		if lv.Plaintext == nil {
			continue
		}
		// Refused for its plaintext, not for its sealing: Go seals the
		// plaintext to the same bytes, and refuses to parse it.
		eph, err := ecdh.X25519().NewPrivateKey(lv.EphemeralPrivate)
		if err != nil {
			t.Fatal(err)
		}
		if sealed, err := seal(eph, p1.PublicKey().Bytes(), lv.Plaintext); err != nil || !bytes.Equal(sealed, lv.Sealed) {
			t.Errorf("%s: sealed differs (%v)", lv.Name, err)
		}
		if l, err := ParseLayer(lv.Plaintext); !errors.Is(err, ErrLayer) {
			t.Errorf("%s: parsed (%+v, %v)", lv.Name, l, err)
		}
	}
}

func TestRequestVectors(t *testing.T) {
	v := loadVectors(t)
	for _, rv := range v.Requests {
		r := Request{Path: rv.Path, Auth: rv.Auth, Body: []byte(rv.Body)}
		if got := r.Marshal(); !bytes.Equal(got, rv.Encoded) {
			t.Errorf("%s: encoded differs\n got %x\nwant %x", rv.Name, got, rv.Encoded)
		}
		got, err := ParseRequest(rv.Encoded)
		if err != nil || got.Path != r.Path || got.Auth != r.Auth || !bytes.Equal(got.Body, r.Body) {
			t.Errorf("%s: parsed %+v, %v", rv.Name, got, err)
		}
	}
	for _, b := range v.BadRequests {
		if r, err := ParseRequest(b.Encoded); !errors.Is(err, ErrRequest) {
			t.Errorf("%s: parsed (%+v, %v)", b.Name, r, err)
		}
	}
}

func answerOf(a answerVector) Answer {
	return Answer{Status: a.Status, Date: a.Date, RetryAfter: a.RetryAfter, Identity: a.Identity,
		ServerKey: a.ServerKey, KeySignature: a.KeySignature, BodyLength: a.BodyLength}
}

func sameAnswer(a, b *Answer) bool {
	return a.Status == b.Status && a.Date == b.Date && a.RetryAfter == b.RetryAfter && a.BodyLength == b.BodyLength &&
		bytes.Equal(a.Identity, b.Identity) && bytes.Equal(a.ServerKey, b.ServerKey) && bytes.Equal(a.KeySignature, b.KeySignature)
}

func TestAnswerAndRefusalVectors(t *testing.T) {
	v := loadVectors(t)
	for _, av := range v.Answers {
		want := answerOf(av)
		if got := want.Marshal(); !bytes.Equal(got, av.Encoded) {
			t.Errorf("%s: encoded differs\n got %x\nwant %x", av.Name, got, av.Encoded)
		}
		r := bytes.NewReader(av.Encoded)
		got, err := ReadAnswer(r)
		if err != nil || !sameAnswer(got, &want) || r.Len() != 0 {
			t.Errorf("%s: read %+v, %v (%d bytes left)", av.Name, got, err, r.Len())
		}
	}
	for _, b := range v.BadAnswers {
		if a, err := ReadAnswer(bytes.NewReader(b.Encoded)); !errors.Is(err, ErrFrame) {
			t.Errorf("%s: read (%+v, %v)", b.Name, a, err)
		}
	}
	for _, fv := range v.Refusals {
		want := Refusal{Status: fv.Status, Code: fv.Code}
		if got := want.Marshal(); !bytes.Equal(got, fv.Encoded) {
			t.Errorf("%s: encoded %x, want %x", fv.Name, got, fv.Encoded)
		}
		r := bytes.NewReader(fv.Encoded)
		got, err := ReadRefusal(r)
		if err != nil || *got != want || r.Len() != 0 {
			t.Errorf("%s: read %+v, %v", fv.Name, got, err)
		}
	}
	for _, b := range v.BadRefusals {
		if f, err := ReadRefusal(bytes.NewReader(b.Encoded)); !errors.Is(err, ErrFrame) {
			t.Errorf("%s: read (%+v, %v)", b.Name, f, err)
		}
	}
}

func TestAnswerKeyVectors(t *testing.T) {
	v := loadVectors(t)
	plain := []byte("an answer")
	for i, kv := range v.AnswerKeys {
		c, err := ResponseCipher([ResponseKeySize]byte(kv.ResponseKey), kv.Salt)
		if err != nil {
			t.Fatal(err)
		}
		want, err := stream.New(kv.Key, stream.DefaultSegmentSize)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(c.Seal(nil, plain, 0, true), want.Seal(nil, plain, 0, true)) {
			t.Errorf("answer key %d: ResponseCipher derives another key", i)
		}
	}
}

// openLinks reads hops' answers the way a client does: each hop's salt in
// the clear, then its stream, whose plaintext starts with a type byte. It
// returns the types and the last hop's plaintext after its type.
func openLinks(t *testing.T, lv linkVector, b []byte) ([]byte, io.Reader) {
	t.Helper()
	var r io.Reader = bytes.NewReader(b)
	var types []byte
	for i, k := range lv.ResponseKeys {
		salt := make([]byte, AnswerSaltSize)
		if _, err := io.ReadFull(r, salt); err != nil || !bytes.Equal(salt, lv.Salts[i]) {
			t.Fatalf("hop %d: salt %x, %v", i, salt, err)
		}
		c, err := ResponseCipher([ResponseKeySize]byte(k), salt)
		if err != nil {
			t.Fatal(err)
		}
		r = stream.NewReader(c, r)
		var typ [1]byte
		if _, err := io.ReadFull(r, typ[:]); err != nil {
			t.Fatalf("hop %d: %v", i, err)
		}
		types = append(types, typ[0])
	}
	return types, r
}

// sealLinks writes the answer of the last hop, plain (type byte included),
// and wraps it in each earlier hop's relayed answer, as proxies do.
func sealLinks(t *testing.T, lv linkVector, plain []byte) []byte {
	t.Helper()
	for i := len(lv.ResponseKeys) - 1; i >= 0; i-- {
		c, err := ResponseCipher([ResponseKeySize]byte(lv.ResponseKeys[i]), lv.Salts[i])
		if err != nil {
			t.Fatal(err)
		}
		out := bytes.NewBuffer(bytes.Clone(lv.Salts[i]))
		w := stream.NewWriter(c, out)
		if _, err := w.Write(plain); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		plain = append([]byte{TypeRelayed}, out.Bytes()...)
	}
	return plain[1:]
}

func TestAnswerStreamVectors(t *testing.T) {
	v := loadVectors(t)

	route := v.Streams.Route
	b, err := os.ReadFile("testdata/" + route.File)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(b); len(b) != route.Size || !bytes.Equal(sum[:], route.SHA256) {
		t.Fatalf("%s: %d bytes, sha256 %x", route.File, len(b), sum)
	}
	types, r := openLinks(t, route, b)
	a, err := ReadAnswer(r)
	if err != nil || !bytes.Equal(types, []byte{TypeRelayed, TypeAnswer}) || !bytes.Equal(a.Marshal(), route.Answer) {
		t.Fatalf("route: types %v, answer %+v, %v", types, a, err)
	}
	body, err := io.ReadAll(r)
	if sum := sha256.Sum256(body); err != nil || uint64(len(body)) != a.BodyLength || uint64(len(body)) != route.BodySize ||
		!bytes.Equal(sum[:], route.BodySHA256) {
		t.Fatalf("route: body of %d bytes, %v", len(body), err)
	}
	if got := sealLinks(t, route, append(append([]byte{TypeAnswer}, a.Marshal()...), body...)); !bytes.Equal(got, b) {
		t.Error("route: Go seals another answer than the vector's")
	}

	refused := v.Streams.Refused
	types, r = openLinks(t, refused, refused.Encoded)
	f, err := ReadRefusal(r)
	if err != nil || !bytes.Equal(types, []byte{TypeRelayed, TypeRefused}) || !bytes.Equal(f.Marshal(), refused.Refusal) {
		t.Fatalf("refused: types %v, %+v, %v", types, f, err)
	}
	if rest, _ := io.ReadAll(r); len(rest) != 0 {
		t.Fatalf("refused: %d bytes after the refusal", len(rest))
	}
	if got := sealLinks(t, refused, append([]byte{TypeRefused}, f.Marshal()...)); !bytes.Equal(got, refused.Encoded) {
		t.Error("refused: Go seals another answer than the vector's")
	}

	key := v.Streams.Key
	types, r = openLinks(t, key, key.Encoded)
	a, err = ReadAnswer(r)
	if err != nil || !bytes.Equal(types, []byte{TypeAnswer}) || !bytes.Equal(a.Marshal(), key.Answer) {
		t.Fatalf("key: types %v, %+v, %v", types, a, err)
	}
	body, err = io.ReadAll(r)
	if err != nil || string(body) != key.Body || uint64(len(body)) != a.BodyLength || key.Body != v.Proxies[1].KeyResponse {
		t.Fatalf("key: body %q, %v", body, err)
	}
	if got := sealLinks(t, key, append(append([]byte{TypeAnswer}, a.Marshal()...), body...)); !bytes.Equal(got, key.Encoded) {
		t.Error("key: Go seals another answer than the vector's")
	}
}

// TestProxyDocShowsTheVectors keeps docs/PROXY.md's table of test vectors
// equal to testdata/vectors.json, row by row.
func TestProxyDocShowsTheVectors(t *testing.T) {
	v := loadVectors(t)
	doc, err := os.ReadFile("../../docs/PROXY.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string]bool{}
	for _, l := range strings.Split(string(doc), "\n") {
		lines[l] = true
	}
	b64 := base64.RawURLEncoding.EncodeToString
	p1, p2 := v.Proxies[0], v.Proxies[1]
	outer := sha256.Sum256(v.Layers[1].Sealed)
	ak := v.AnswerKeys[0]
	route := v.Streams.Route
	for _, row := range []string{
		"| P1's proxy private key | `" + hex.EncodeToString(p1.ProxyPrivate) + "` |",
		"| P1's proxy key | `" + b64(p1.ProxyPublic) + "` |",
		"| its signature | `" + b64(p1.Signature) + "` |",
		"| P2's proxy key | `" + b64(p2.ProxyPublic) + "` |",
		fmt.Sprintf("| the route's request for D (§13.3's download), sealed to P2 | %d bytes (470 + %d) |", len(v.Layers[0].Sealed), len(v.Requests[0].Encoded)),
		fmt.Sprintf("| the route's layer for P1 (the `POST /v1/proxy` body) | %d bytes, SHA-256 `%x` |", len(v.Layers[1].Sealed), outer),
		fmt.Sprintf("| answer key, response key `%02x..%02x`, salt `%02x..%02x` | `%x` |", ak.ResponseKey[0], ak.ResponseKey[31], ak.Salt[0], ak.Salt[31], ak.Key),
		"| answer header of an acknowledgement (200, date 1750000000, D's identity, body `{}`) | `" + hex.EncodeToString(v.Answers[1].Encoded) + "` |",
		"| refusal `UNREACHABLE` (status 0) | `" + hex.EncodeToString(v.Refusals[1].Encoded) + "` |",
		fmt.Sprintf("| P1's answer to the route (body: §13.4's %d-byte stream) | %d bytes, SHA-256 `%x` |", route.BodySize, route.Size, route.SHA256),
	} {
		if !lines[row] {
			t.Errorf("docs/PROXY.md lacks the row\n%s", row)
		}
	}
	// The inputs the section names are the vectors' (seeds are runs of
	// consecutive bytes).
	for _, s := range []string{
		fmt.Sprintf("P1's identity seed is `%02x..%02x`", p1.IdentitySeed[0], p1.IdentitySeed[31]),
		fmt.Sprintf("P2's `%02x..%02x`", p2.IdentitySeed[0], p2.IdentitySeed[31]),
	} {
		if !strings.Contains(strings.ReplaceAll(string(doc), "\n", " "), s) {
			t.Errorf("docs/PROXY.md does not say %q", s)
		}
	}
	for _, k := range [][]byte{p1.IdentitySeed, p2.IdentitySeed, ak.ResponseKey, ak.Salt} {
		for i := range k {
			if k[i] != k[0]+byte(i) {
				t.Fatalf("%x is not a run of consecutive bytes", k)
			}
		}
	}
}
