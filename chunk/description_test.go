package chunk

import (
	"bytes"
	"compress/flate"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func testSeed(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}

// testDescription is the description in testdata/descriptions/valid/two-chunks.yaml.
func testDescription() *Description {
	replica := func(server, id string) Replica {
		return Replica{Server: server, ID: []byte(id), Key: ed25519.NewKeyFromSeed(testSeed(server + id))}
	}
	const a = "xftp://LTeNBM2Hy2h1KcLB4X1JELflFdyWyvdbQNzh65U-Ims@files.example.org:443"
	const b = "xftp://47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU@[2001:db8::1]:8443"
	return &Description{
		Version: 1,
		Party:   PartyRecipient,
		Size:    Size256K + Size64K,
		Key:     testKey(0),
		Chunks: []ChunkRef{
			{Number: 1, Size: Size256K, Digest: sha256.Sum256([]byte("chunk 1")), Replicas: []Replica{replica(a, "recipient-1a"), replica(b, "recipient-1b")}},
			{Number: 2, Size: Size64K, Digest: sha256.Sum256([]byte("chunk 2")), Replicas: []Replica{replica(b, "\x00\xff\x10")}},
		},
	}
}

// testErasureDescription is the description in
// testdata/descriptions/valid/erasure-2+1.yaml: three chunks in stripes of
// 2+1, so the parity chunks are 256 KiB (the larger chunk of stripe 0) and
// 64 KiB (the lone chunk of stripe 1).
func testErasureDescription() *Description {
	d := testDescription()
	c := d.Chunks[1]
	c.Number = 3
	c.Digest = sha256.Sum256([]byte("chunk 3"))
	d.Chunks = append(d.Chunks, c)
	d.Size += c.Size
	d.Erasure = ErasureParams{Data: 2, Parity: 1}
	const p = "xftp://nbTQ9KK5Wa1y1wN-8YMIIq2ZV-5TvrYg0tUcXxAiJ2c@parity.example.net:443"
	d.Parity = []ChunkRef{
		{Number: 1, Size: Size256K, Digest: sha256.Sum256([]byte("parity 1")), Replicas: []Replica{{Server: p, ID: []byte("parity-1"), Key: ed25519.NewKeyFromSeed(testSeed("parity-1"))}}},
		{Number: 2, Size: Size64K, Digest: sha256.Sum256([]byte("parity 2")), Replicas: []Replica{{Server: p, ID: []byte("parity-2"), Key: ed25519.NewKeyFromSeed(testSeed("parity-2"))}}},
	}
	return d
}

// TestDescriptionGolden checks Marshal against the golden files; the
// one without parity has kept its bytes since before parity existed.
func TestDescriptionGolden(t *testing.T) {
	for path, want := range map[string]*Description{
		"testdata/descriptions/valid/two-chunks.yaml":  testDescription(),
		"testdata/descriptions/valid/erasure-2+1.yaml": testErasureDescription(),
	} {
		b, err := want.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if os.Getenv("UPDATE_GOLDEN") != "" {
			os.WriteFile(path, b, 0o644)
		}
		golden, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, golden) {
			t.Fatalf("Marshal() =\n%s\nwant\n%s", b, golden)
		}
		got, err := Parse(golden)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Parse(golden) = %+v, want %+v", got, want)
		}
	}
	// A link without parity decodes to the same payload as before parity
	// existed (two-chunks.link was made then, by the same encoding).
	old, err := os.ReadFile("testdata/descriptions/valid/two-chunks.link")
	if err != nil {
		t.Fatal(err)
	}
	z, err := b64.DecodeString(strings.TrimPrefix(strings.TrimSpace(string(old)), LinkPrefix))
	if err != nil {
		t.Fatal(err)
	}
	if p, err := io.ReadAll(flate.NewReader(bytes.NewReader(z))); err != nil || !bytes.Equal(p, linkPayload(t, testDescription())) {
		t.Fatalf("two-chunks.link payload changed (%v)", err)
	}
	// The link vector was made by Link; DEFLATE output may change between
	// Go releases, so only its meaning is compared.
	const path = "testdata/descriptions/valid/erasure-2+1.link"
	if os.Getenv("UPDATE_GOLDEN") != "" {
		link, err := testErasureDescription().Link()
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(path, []byte(link+"\n"), 0o644)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, testErasureDescription()) {
		t.Fatalf("Parse(%s) = %+v", path, got)
	}
}

// TestValidDescriptions parses every file in testdata/descriptions/valid
// and checks that its YAML form parses to the same description.
func TestValidDescriptions(t *testing.T) {
	files, _ := filepath.Glob("testdata/descriptions/valid/*")
	if len(files) < 2 {
		t.Fatalf("%d valid vectors", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			d, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			out, err := d.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			d2, err := Parse(out)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(d, d2) {
				t.Fatalf("re-marshaled as\n%s", out)
			}
		})
	}
}

// TestInvalidDescriptions parses every file in
// testdata/descriptions/invalid; its first line is "# error: <text>" and
// the error must wrap ErrDescription and contain that text.
func TestInvalidDescriptions(t *testing.T) {
	files, _ := filepath.Glob("testdata/descriptions/invalid/*")
	if len(files) < 10 {
		t.Fatalf("%d invalid vectors", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			first, rest, _ := bytes.Cut(b, []byte("\n"))
			want, ok := strings.CutPrefix(string(first), "# error: ")
			if !ok {
				t.Fatal(`first line is not "# error: <text>"`)
			}
			if strings.HasSuffix(f, ".link") {
				b = rest
			}
			_, err = Parse(b)
			if !errors.Is(err, ErrDescription) {
				t.Fatalf("Parse: %v, want ErrDescription", err)
			}
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("Parse: %q does not mention %q", err, want)
			}
		})
	}
}

func TestDescriptionRoundTrip(t *testing.T) {
	big := testDescription()
	big.Party = PartySender
	big.Chunks = nil
	big.Size = 0
	for i := range 1000 {
		server := []string{"xftp://a@one:1", "xftp://b@two:2", "xftp://c@three:3"}[i%3]
		big.Chunks = append(big.Chunks, ChunkRef{
			Number: i + 1, Size: Size4M, Digest: sha256.Sum256([]byte{byte(i), byte(i >> 8)}),
			Replicas: []Replica{{Server: server, ID: testSeed(server)[:24], Key: ed25519.NewKeyFromSeed(testSeed(string(rune(i))))}},
		})
		big.Size += Size4M
	}
	bigCoded := *big
	bigCoded.Erasure = ErasureParams{Data: 10, Parity: 4}
	bigCoded.Parity = nil
	for j := range 400 {
		server := fmt.Sprint("xftp://p@parity:", j%4)
		bigCoded.Parity = append(bigCoded.Parity, ChunkRef{
			Number: j + 1, Size: Size4M, Digest: sha256.Sum256([]byte{byte(j), byte(j >> 8), 'p'}),
			Replicas: []Replica{{Server: server, ID: testSeed(server)[:24], Key: ed25519.NewKeyFromSeed(testSeed(fmt.Sprint("p", j)))}},
		})
	}
	for name, d := range map[string]*Description{"two chunks": testDescription(), "1000 chunks": big, "2+1": testErasureDescription(), "1000 chunks 10+4": &bigCoded} {
		t.Run(name, func(t *testing.T) {
			y, err := d.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			link, err := d.Link()
			if err != nil {
				t.Fatal(err)
			}
			if len(link) >= len(y) {
				t.Errorf("link is %d bytes, YAML %d", len(link), len(y))
			}
			for form, b := range map[string][]byte{"yaml": y, "link": []byte(link), "link with newline": []byte(link + "\n")} {
				got, err := Parse(b)
				if err != nil {
					t.Fatalf("%s: %v", form, err)
				}
				if !reflect.DeepEqual(got, d) {
					t.Fatalf("%s: round trip changed the description", form)
				}
			}
			if sizes := d.ChunkSizes(); len(sizes) != len(d.Chunks) || sizes[0] != d.Chunks[0].Size {
				t.Fatalf("ChunkSizes() = %v", sizes)
			}
		})
	}
}

// linkPayload returns the decompressed binary encoding of d's link.
func linkPayload(t *testing.T, d *Description) []byte {
	t.Helper()
	link, err := d.Link()
	if err != nil {
		t.Fatal(err)
	}
	z, err := b64.DecodeString(strings.TrimPrefix(link, LinkPrefix))
	if err != nil {
		t.Fatal(err)
	}
	p, err := io.ReadAll(flate.NewReader(bytes.NewReader(z)))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// compressLink builds a link around an arbitrary payload.
func compressLink(t *testing.T, p []byte) string {
	t.Helper()
	var z bytes.Buffer
	w, _ := flate.NewWriter(&z, flate.BestSpeed)
	w.Write(p)
	w.Close()
	return LinkPrefix + b64.EncodeToString(z.Bytes())
}

func TestMalformedDescriptions(t *testing.T) {
	valid := func(edit func(d *Description)) *Description {
		d := testDescription()
		edit(d)
		return d
	}
	erasure := func(edit func(d *Description)) *Description {
		d := testErasureDescription()
		edit(d)
		return d
	}
	// Invalid values: Validate, Marshal and Link must all refuse them.
	for _, tc := range []struct {
		name string
		d    *Description
		want string
	}{
		{"nil", nil, "nil"},
		{"version 0", valid(func(d *Description) { d.Version = 0 }), "xftp_description"},
		{"version 2", valid(func(d *Description) { d.Version = 2 }), "xftp_description"},
		{"no party", valid(func(d *Description) { d.Party = "" }), "party"},
		{"unknown party", valid(func(d *Description) { d.Party = "Recipient" }), "party"},
		{"short key", valid(func(d *Description) { d.Key = d.Key[:31] }), "key"},
		{"no chunks", valid(func(d *Description) { d.Chunks = nil }), "chunks: none"},
		{"numbers from 0", valid(func(d *Description) { d.Chunks[0].Number = 0 }), "chunks[0].no"},
		{"numbers not consecutive", valid(func(d *Description) { d.Chunks[1].Number = 3 }), "chunks[1].no"},
		{"chunk size 0", valid(func(d *Description) { d.Chunks[1].Size = 0; d.Size -= Size64K }), "chunks[1].size"},
		{"chunk size not a segment multiple", valid(func(d *Description) { d.Chunks[1].Size++; d.Size++ }), "chunks[1].size"},
		{"chunk size above 4 MiB", valid(func(d *Description) { d.Chunks[1].Size = 2 * Size4M; d.Size += 2*Size4M - Size64K }), "chunks[1].size"},
		{"size not the sum", valid(func(d *Description) { d.Size++ }), "size: "},
		{"no replicas", valid(func(d *Description) { d.Chunks[1].Replicas = nil }), "chunks[1].replicas: none"},
		{"empty server", valid(func(d *Description) { d.Chunks[0].Replicas[1].Server = "" }), "chunks[0].replicas[1].server"},
		{"control in server", valid(func(d *Description) { d.Chunks[0].Replicas[1].Server = "xftp://a@b:1\n" }), "chunks[0].replicas[1].server"},
		{"bad UTF-8 server", valid(func(d *Description) { d.Chunks[0].Replicas[1].Server = "\xff" }), "chunks[0].replicas[1].server"},
		{"long server", valid(func(d *Description) { d.Chunks[0].Replicas[1].Server = strings.Repeat("a", MaxServerLen+1) }), "server"},
		{"empty id", valid(func(d *Description) { d.Chunks[1].Replicas[0].ID = nil }), "chunks[1].replicas[0].id"},
		{"long id", valid(func(d *Description) { d.Chunks[1].Replicas[0].ID = make([]byte, 65) }), "chunks[1].replicas[0].id"},
		{"no replica key", valid(func(d *Description) { d.Chunks[1].Replicas[0].Key = nil }), "chunks[1].replicas[0].key"},
		{"replica key is a seed", valid(func(d *Description) { d.Chunks[1].Replicas[0].Key = d.Chunks[1].Replicas[0].Key.Seed() }), "chunks[1].replicas[0].key"},
		{"parity without erasure", valid(func(d *Description) { d.Parity = testErasureDescription().Parity }), "parity: 2 chunks without erasure coding"},
		{"erasure 0+1", erasure(func(d *Description) { d.Erasure.Data = 0 }), "erasure: 0+1"},
		{"erasure 2+0", erasure(func(d *Description) { d.Erasure.Parity = 0 }), "erasure: 2+0"},
		{"erasure 2+-1", erasure(func(d *Description) { d.Erasure.Parity = -1 }), "erasure: 2+-1"},
		{"erasure 200+57", erasure(func(d *Description) { d.Erasure = ErasureParams{200, 57} }), "erasure: 200+57"},
		{"erasure without parity", erasure(func(d *Description) { d.Parity = nil }), "parity: 0 chunks, want 2"},
		{"parity count", erasure(func(d *Description) { d.Erasure.Parity = 2 }), "parity: 2 chunks, want 4"},
		{"parity count for stripes", erasure(func(d *Description) { d.Erasure.Data = 3 }), "parity: 2 chunks, want 1"},
		{"parity number", erasure(func(d *Description) { d.Parity[1].Number = 1 }), "parity[1].no: 1, want 2"},
		{"parity size", erasure(func(d *Description) { d.Parity[1].Size = Size256K }), "parity[1].size: 262144, want 65536"},
		{"parity size small", erasure(func(d *Description) { d.Parity[0].Size = Size64K }), "parity[0].size: 65536, want 262144"},
		{"parity size odd", erasure(func(d *Description) { d.Parity[0].Size = 1000 }), "parity[0].size: 1000 is not"},
		{"parity replicas", erasure(func(d *Description) { d.Parity[0].Replicas = nil }), "parity[0].replicas: none"},
		{"parity replica id", erasure(func(d *Description) { d.Parity[1].Replicas[0].ID = nil }), "parity[1].replicas[0].id"},
		{"replica key halves mismatch", valid(func(d *Description) {
			k := bytes.Clone(d.Chunks[1].Replicas[0].Key)
			k[40] ^= 1
			d.Chunks[1].Replicas[0].Key = k
		}), "chunks[1].replicas[0].key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for op, f := range map[string]func() error{
				"Validate": tc.d.Validate,
				"Marshal":  func() error { _, err := tc.d.Marshal(); return err },
				"Link":     func() error { _, err := tc.d.Link(); return err },
			} {
				err := f()
				if !errors.Is(err, ErrDescription) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: %v, want ErrDescription mentioning %q", op, err, tc.want)
				}
			}
		})
	}

	// Malformed links.
	good, err := testDescription().Link()
	if err != nil {
		t.Fatal(err)
	}
	z, err := b64.DecodeString(strings.TrimPrefix(good, LinkPrefix))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := io.ReadAll(flate.NewReader(bytes.NewReader(z)))
	if err != nil {
		t.Fatal(err)
	}
	relink := func(z []byte) string { return LinkPrefix + b64.EncodeToString(z) }
	bomb := make([]byte, maxLinkPayload+1)
	for _, tc := range []struct{ name, link string }{
		{"prefix only", LinkPrefix},
		{"padded base64", good + "="},
		{"standard base64", LinkPrefix + "ab+/"},
		{"line break", good[:40] + "\n" + good[40:]},
		{"not DEFLATE", LinkPrefix + b64.EncodeToString([]byte("hello, world"))},
		{"data after DEFLATE", relink(append(bytes.Clone(z), 0))},
		{"truncated DEFLATE", relink(z[:len(z)-1])},
		{"link version 2", "xftp:file:2:" + good[len(LinkPrefix):]},
		{"no prefix", good[len(LinkPrefix):]},
		{"zip bomb", compressLink(t, bomb)},
		{"empty payload", compressLink(t, nil)},
		{"truncated payload", compressLink(t, payload[:len(payload)-1])},
		{"extra payload byte", compressLink(t, append(bytes.Clone(payload), 0))},
		{"party 4", compressLink(t, append([]byte{4}, payload[1:]...))},
		{"huge server count", compressLink(t, append(append(bytes.Clone(payload[:33]), 0xff, 0xff, 0xff, 0xff, 0x0f), payload[34:]...))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.link))
			if !errors.Is(err, ErrDescription) {
				t.Fatalf("Parse: %v, want ErrDescription", err)
			}
			t.Log(err)
		})
	}
	// Malformed parity parts: payload is the link payload of the 2+1
	// description, whose parity part starts at tail.
	coded := linkPayload(t, testErasureDescription())
	// A parity chunk: 3 (size) + 32 (digest) + 1 (replicas) + 1 (server)
	// + 1 (ID length) + 8 (ID) + 32 (seed) bytes.
	tail := len(coded) - 2*(3+32+1+1+1+8+32) - 3
	if coded[tail] != 2 || coded[tail+1] != 1 || coded[tail+2] != 2 {
		t.Fatalf("parity part not found: %x", coded[tail:tail+3])
	}
	withTail := func(p ...byte) []byte { return append(bytes.Clone(coded[:tail]), p...) }
	serverIndex := func(k byte) []byte {
		p := bytes.Clone(coded)
		i := tail + 3 + 3 + 32 + 1 // the first parity chunk's first replica
		if p[i] != 2 {
			t.Fatalf("server index %d, want 2", p[i])
		}
		p[i] = k
		return p
	}
	for _, tc := range []struct{ name, link, want string }{
		{"erasure only K", compressLink(t, withTail(2)), "link: bad varint"},
		{"erasure 0+1", compressLink(t, withTail(append([]byte{0}, coded[tail+1:]...)...)), "link: erasure: 0+1"},
		{"erasure 2+0", compressLink(t, withTail(append([]byte{2, 0}, coded[tail+2:]...)...)), "link: erasure: 2+0"},
		{"erasure 2+300", compressLink(t, withTail(append([]byte{2, 0xac, 0x02}, coded[tail+2:]...)...)), "link: erasure: 2+300"},
		{"no parity chunks", compressLink(t, withTail(2, 1, 0)), "link: a server is listed but not used"},
		{"parity truncated", compressLink(t, coded[:len(coded)-1]), "link: unexpected EOF"},
		{"parity extra byte", compressLink(t, append(bytes.Clone(coded), 0)), "link: 1 bytes after the last chunk"},
		{"parity count too large", compressLink(t, withTail(append([]byte{2, 1, 5}, coded[tail+3:]...)...)), "link: count 5 exceeds the input"},
		{"parity count 3", compressLink(t, withTail(append([]byte{2, 1, 3}, coded[tail+3:]...)...)), "link: bad varint"},
		{"parity server out of order", compressLink(t, serverIndex(3)), "link: parity chunk 1: server index 3 out of order"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.link))
			if !errors.Is(err, ErrDescription) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse: %v, want ErrDescription mentioning %q", err, tc.want)
			}
		})
	}

	// The payload re-compressed differently still parses: only the
	// decompressed bytes matter.
	if _, err := Parse([]byte(compressLink(t, payload))); err != nil {
		t.Fatalf("re-compressed link: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, dir := range []string{"testdata/descriptions/valid", "testdata/descriptions/invalid"} {
		files, _ := filepath.Glob(dir + "/*")
		for _, name := range files {
			b, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	for _, d := range []*Description{testDescription(), testErasureDescription()} {
		link, err := d.Link()
		if err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(link))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrDescription) {
				t.Fatalf("error %v does not wrap ErrDescription", err)
			}
			return
		}
		y, err := d.Marshal()
		if err != nil {
			t.Fatalf("parsed but does not marshal: %v", err)
		}
		d2, err := Parse(y)
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, y)
		}
		if !reflect.DeepEqual(d, d2) {
			t.Fatalf("YAML round trip changed the description")
		}
		link, err := d.Link()
		if err != nil {
			t.Fatalf("parsed but has no link: %v", err)
		}
		d3, err := Parse([]byte(link))
		if err != nil {
			t.Fatalf("re-parse link: %v", err)
		}
		if !reflect.DeepEqual(d, d3) {
			t.Fatalf("link round trip changed the description")
		}
	})
}

func BenchmarkParse(b *testing.B) {
	d := testDescription()
	y, err := d.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	link, err := d.Link()
	if err != nil {
		b.Fatal(err)
	}
	for name, in := range map[string][]byte{"yaml": y, "link": []byte(link)} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
