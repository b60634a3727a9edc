package simplex

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

type descVector struct {
	Party     string
	Size      int64
	Digest    string
	Key       string
	Nonce     string
	ChunkSize int64
	Redirect  *struct {
		Size   int64
		Digest string
	}
	Chunks []struct {
		No       int
		Size     int64
		Digest   string
		Replicas []struct{ Server, ID, Key string }
	}
}

func loadDescVectors(t *testing.T) map[string]descVector {
	b, err := os.ReadFile(filepath.Join(vectors, "descs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]descVector
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestDescriptionVectors checks both ways against xftp-web: Parse reads
// its YAML into the values it was made from, and Marshal writes the same
// bytes; its web-link fragments decode to the same description.
func TestDescriptionVectors(t *testing.T) {
	vs := loadDescVectors(t)
	if len(vs) < 5 {
		t.Fatalf("%d description vectors", len(vs))
	}
	for name, v := range vs {
		t.Run(name, func(t *testing.T) {
			y, err := os.ReadFile(filepath.Join(vectors, "desc-"+name+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			d, err := Parse(y)
			if err != nil {
				t.Fatal(err)
			}
			checkDesc(t, d, v)
			out, err := d.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, y) {
				t.Fatalf("Marshal differs from xftp-web:\n%s\nwant\n%s", out, y)
			}
			frag, err := os.ReadFile(filepath.Join(vectors, "desc-"+name+".fragment"))
			if err != nil {
				if d.Party == Sender {
					return
				}
				t.Fatal(err)
			}
			link := "https://" + d.Chunks[0].Replicas[0].Server.Hosts[0] + "/#" + strings.TrimSpace(string(frag))
			ld, err := ParseLink(link)
			if err != nil {
				t.Fatal(err)
			}
			if out2, _ := ld.Marshal(); !bytes.Equal(out2, y) {
				t.Fatal("link decodes to a different description")
			}
			// Our own link forms round-trip.
			for _, f := range []func() (string, error){d.URI, func() (string, error) { return d.WebLink("") }} {
				l, err := f()
				if err != nil {
					t.Fatal(err)
				}
				ld, err := ParseLink(l)
				if err != nil {
					t.Fatalf("%s: %v", l, err)
				}
				if out2, _ := ld.Marshal(); !bytes.Equal(out2, y) {
					t.Fatalf("%s decodes to a different description", l[:20])
				}
			}
		})
	}
}

func checkDesc(t *testing.T, d *Description, v descVector) {
	t.Helper()
	hx := hex.EncodeToString
	if string(d.Party) != v.Party || d.Size != v.Size || hx(d.Digest) != v.Digest || hx(d.Key[:]) != v.Key ||
		hx(d.Nonce[:]) != v.Nonce || d.ChunkSize != v.ChunkSize || len(d.Chunks) != len(v.Chunks) {
		t.Fatalf("header fields differ: %+v", d)
	}
	if (d.Redirect == nil) != (v.Redirect == nil) ||
		(d.Redirect != nil && (d.Redirect.Size != v.Redirect.Size || hx(d.Redirect.Digest) != v.Redirect.Digest)) {
		t.Fatalf("redirect differs")
	}
	for i, c := range v.Chunks {
		g := d.Chunks[i]
		if g.No != c.No || g.Size != c.Size || hx(g.Digest) != c.Digest || len(g.Replicas) != len(c.Replicas) {
			t.Fatalf("chunk %d differs", i+1)
		}
		for j, r := range c.Replicas {
			gr := g.Replicas[j]
			if hx(gr.ID) != r.ID || hx(encodeKey(gr.Key)) != r.Key {
				t.Fatalf("chunk %d replica %d differs", i+1, j)
			}
			want, err := ParseServer(r.Server)
			if err != nil || compareServers(want, gr.Server) != 0 {
				t.Fatalf("chunk %d replica %d server %s, want %s", i+1, j, gr.Server, r.Server)
			}
		}
	}
}

// rfcExample is a recipient description written by SimpleX's Haskell code,
// quoted (URL-encoded) in simplexmq's rfcs/done/2024-01-26-file-links.md.
const rfcExample = `chunkSize: 64kb
digest: OtpnXkECTW4a18Eots2m3O22maeOCMqPUX4ulugIjgMEJfCpTYc_-T257Uw7s9bW_F0G5WBg5BioBWd4Z_OoCw==
key: rNR8_2SJuH7Qve43gV3zszL0R6oY5HSdRZT_paB-wfE=
nonce: 2oKwfK-w75nwyWp8_1Lv6QnQonIRtJmG
party: recipient
replicas:
- chunks:
  - 1:TdvaxMnG2Ph1e3QCx3-rpA==:MC4CAQAwBQYDK2VwBCIEILdErEICvgrBCajDLTX2h3LXyMB7z5vrtLa3XVigJuf-:NS46KuYdgOWs6dUeMp7p2oF8rBQ9wQ2Ez6TW6Y6gHg0=
  - 2:H5SRbtKYrXWVXTthrkeWzw==:MC4CAQAwBQYDK2VwBCIEIGeEPNLt7lUGPfplwsoJLCDFnbIc5Hm31kz5X6rWXmgu:7QNRI-gvFx9UM-baXp3YVDli9pcfh3HGFKDhsA9JQHY=
  - 3:_xjukkIl9WZFryUXT0h_TQ==:MC4CAQAwBQYDK2VwBCIEIIRFBaL1HvUfePvKLuggwUrC_q_ZHd7v08IL9jhM7teC:id2lgLMMjTGsR8SUogJuRdLoEHAc5SDQKFDqlZRSuEY=
  server: xftp://LcJUMfVhwD8yxjAiSaDzzGF3-kLG4Uh0Fl_ZIjrRwjI=@localhost:7002
size: 192kb
`

func TestHaskellExample(t *testing.T) {
	d, err := Parse([]byte(rfcExample))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Chunks) != 3 || d.Size != 3*Size64K || d.Chunks[2].Replicas[0].Server.Port != 7002 {
		t.Fatalf("parsed %+v", d)
	}
	out, _ := d.Marshal()
	if string(out) != rfcExample {
		t.Fatalf("Marshal:\n%s", out)
	}
	u, _ := d.URI()
	if !strings.HasPrefix(u, "simplex:/file#/?desc=chunkSize%3A%2064kb%0Adigest%3A%20OtpnXkECTW4a18Eots2m3O22maeOCMqPUX4ulugIjgMEJfCpTYc_-T257Uw7s9bW_F0G5WBg5BioBWd4Z_OoCw%3D%3D%0A") ||
		!strings.Contains(u, "server%3A%20xftp%3A%2F%2FLcJUMfVhwD8yxjAiSaDzzGF3-kLG4Uh0Fl_ZIjrRwjI%3D%40localhost%3A7002%0Asize%3A%20192kb%0A") {
		t.Fatalf("URI is not encoded as SimpleX encodes it: %s", u)
	}
}

// TestYAMLQuoting: values YAML would misread are single-quoted as
// SimpleX's encoder does, and read back the same.
func TestYAMLQuoting(t *testing.T) {
	for _, c := range []struct {
		in     string
		quoted bool
	}{
		{"4mb", false}, {"1000", true}, {"-123", true}, {"1e5", true}, {"0x1F", true}, {"12345678901234567890123456789012", true},
		{"---abc", true}, {"...x", true}, {"-abc", false}, {"abc=", false}, {"1:a:b", false}, {"a:", true},
		{"yes", true}, {"null", true}, {"~", true}, {"xftp://a=@h:1", false}, {"_x-", false},
	} {
		got := yamlScalar(c.in)
		if (got != c.in) != c.quoted {
			t.Errorf("yamlScalar(%q) = %s", c.in, got)
		}
		var v string
		if err := yaml.Unmarshal([]byte("k: "+got), &struct{ K *string }{&v}); err != nil || v != c.in {
			t.Errorf("%s reads back as %q (%v)", got, v, err)
		}
	}
}

func validYAML(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join(vectors, "desc-seven-mib.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseRejects(t *testing.T) {
	good := validYAML(t)
	if _, err := Parse([]byte(good)); err != nil {
		t.Fatal(err)
	}
	sub := func(old, new string) string {
		if !strings.Contains(good, old) {
			t.Fatalf("vector lacks %q", old)
		}
		return strings.Replace(good, old, new, 1)
	}
	line := func(prefix string) string { // the whole line starting with prefix
		i := strings.Index(good, prefix)
		j := strings.IndexByte(good[i:], '\n')
		return good[i : i+j+1]
	}
	for _, c := range []struct{ name, text, want string }{
		{"empty", "", "empty"},
		{"not a mapping", "- a\n- b\n", "not a mapping"},
		{"not YAML", "a: [\n", "not YAML"},
		{"no party", sub(line("party:"), ""), "no party"},
		{"bad party", sub("party: recipient", "party: owner"), "party"},
		{"no size", sub(line("size:"), ""), "no size"},
		{"bad size", sub("size: 7mb", "size: 7tb"), "size"},
		{"size overflow", sub("size: 7mb", "size: 99999999999999999999gb"), "size"},
		{"size mismatch", sub("size: 7mb", "size: 8mb"), "different than file size"},
		{"8mb chunks", sub("chunkSize: 4mb", "chunkSize: 8mb"), "chunkSize"},
		{"odd chunk size", sub(":1mb\n", ":2mb\n"), "size"},
		{"short digest", sub(line("digest:"), "digest: YWJj\n"), "digest"},
		{"bad base64 key", sub(line("key:"), "key: ab!c\n"), "key"},
		{"short nonce", sub(line("nonce:"), "nonce: AAAA\n"), "nonce"},
		{"no replicas", sub("replicas:", "replicaz:"), "no replicas"},
		{"duplicate key", good + "party: sender\n", "twice"},
		{"gap in chunk numbers", sub("  - 3:", "  - 5:"), "sequential"},
		{"chunk without digest", sub("  - 2:", "  - 2:"+"AA==:MC4CAQAwBQYDK2VwBCIEIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f\n  - 9:"), ""},
		{"bad replica line", sub("  - 1:", "  - x:"), "chunk number"},
		{"too many fields", sub(":1mb\n", ":1mb:x\n"), "not chunkNo"},
		{"key not Ed25519", sub("MC4CAQAwBQYDK2Vw", "MC4CAQAwBQYDK2Vx"), "Ed25519"},
		{"server password", sub("@a.example.com", ":pass@a.example.com"), "password"},
		{"server bad key hash", sub("xftp://AAMG", "xftp://AAM"), "key hash"},
		{"server bad port", sub("b.example.com:5443", "b.example.com:99999"), "port"},
		{"server not xftp", sub("xftp://AAMG", "smp://AAMG"), "xftp://"},
		{"anchor", sub("party: recipient", "party: &p recipient"), "anchors"},
		{"too many replicas", sub("replicas:\n", "replicas:\n- chunks:\n"+strings.Repeat("  - 1:AA==:AA==\n", MaxReplicas+1)+"  server: x\n"), "replicas, at most"},
		{"too many lines", strings.Repeat("\n", MaxReplicas+100), "lines"},
		{"too large", strings.Repeat(" ", MaxDescriptionSize+1), "at most"},
		{"redirect without size", sub("party: recipient\n", "party: recipient\nredirect:\n  digest: "+strings.Repeat("A", 86)+"==\n"), "redirect"},
		{"redirect size as text", sub("party: recipient\n", "party: recipient\nredirect:\n  digest: "+strings.Repeat("A", 86)+"==\n  size: '5'\n"), "not a number"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.text))
			if err == nil || !errors.Is(err, ErrDescription) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestParseLinkRejects(t *testing.T) {
	d, err := Parse([]byte(validYAML(t)))
	if err != nil {
		t.Fatal(err)
	}
	snd := *d
	snd.Party = Sender
	sndURI, _ := snd.URI()
	y, _ := d.Marshal()
	var bomb bytes.Buffer
	w, _ := flate.NewWriter(&bomb, flate.BestCompression)
	w.Write(bytes.Repeat([]byte("a"), MaxDescriptionSize+10))
	w.Close()
	for _, c := range []struct{ name, link, want string }{
		{"ftp", "ftp://x/#abc", "does not start"},
		{"no fragment", "https://x/", "no #fragment"},
		{"bad base64", "https://x/#@@@", "base64"},
		{"not deflate", "https://x/#" + base64.URLEncoding.EncodeToString([]byte("hello")), "decompress"},
		{"bomb", "https://x/#" + base64.URLEncoding.EncodeToString(bomb.Bytes()), "decompresses to more"},
		{"sender", sndURI, "recipient description"},
		{"no desc", "simplex:/file#/?data=x", "no desc"},
		{"wrong path", "simplex:/chat#/?desc=" + queryEscape(y), "not /file"},
		{"bad escape", "simplex:/file#/?desc=%zz", "escape"},
		{"too long", "https://x/#" + strings.Repeat("A", MaxLinkSize), "at most"},
		{"truncated", "simplex:/file#/?desc=" + queryEscape(y[:len(y)/2]), "invalid"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseLink(c.link)
			if err == nil || !errors.Is(err, ErrDescription) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one containing %q", err, c.want)
			}
		})
	}
	// Forms SimpleX accepts.
	for _, l := range []string{
		"simplex:/file/#/?desc=" + queryEscape(y) + "&data=%7B%7D",
		"https://simplex.chat/file#/?desc=" + queryEscape(y),
	} {
		if _, err := ParseLink(l); err != nil {
			t.Errorf("%s…: %v", l[:30], err)
		}
	}
}

func TestServer(t *testing.T) {
	kh := strings.Repeat("A", 43) + "="
	for _, c := range []struct{ in, out, hostPort string }{
		{"xftp://" + kh + "@h.example", "", "h.example:443"},
		{"xftp://" + strings.Repeat("A", 43) + "@h.example:5443", "xftp://" + kh + "@h.example:5443", "h.example:5443"},
		{"xftp://" + kh + "@a.onion,b.example:1", "", "a.onion:1"},
		{"xftp://" + kh + "@[::1]:7", "", "[::1]:7"},
		{"xftp://" + kh + "@127.0.0.1:0443", "xftp://" + kh + "@127.0.0.1:443", "127.0.0.1:443"},
	} {
		s, err := ParseServer(c.in)
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		want := c.out
		if want == "" {
			want = c.in
		}
		if s.String() != want || s.HostPort() != c.hostPort {
			t.Errorf("%s: %s %s", c.in, s, s.HostPort())
		}
	}
	a, _ := ParseServer("xftp://" + kh + "@127.0.0.1:10001")
	b, _ := ParseServer("xftp://" + kh + "@127.0.0.1:9000")
	c, _ := ParseServer("xftp://" + kh + "@a.example")
	if compareServers(a, b) >= 0 || compareServers(b, c) >= 0 {
		t.Error("server order is not SimpleX's (IPv4 before names, ports as text)")
	}
	// Haskell orders by host before key hash, and IPv4 hosts by number:
	// not the order of the address strings.
	x, _ := ParseServer("xftp://" + strings.Repeat("B", 43) + "=@a.example")
	y, _ := ParseServer("xftp://" + strings.Repeat("A", 43) + "=@b.example")
	p9, _ := ParseServer("xftp://" + kh + "@127.0.0.9")
	p10, _ := ParseServer("xftp://" + kh + "@127.0.0.10")
	if compareServers(x, y) >= 0 || compareServers(p9, p10) >= 0 {
		t.Error("server order follows the address strings, not SimpleX's")
	}
}

// TestReplicaOrderSurvivesMarshal: Marshal groups replica lines by server
// and writes a chunk's digest on its first replica, so Parse must take the
// replica whose line carries the digest as the first and order the rest by
// server, or parse→marshal→parse changes the description and marshal moves
// the digest to another line. The first case is one letter of a server's
// host changed in desc-replicas.yaml, a FuzzParse seed ("a." to "z.", which
// sorts that server last: one mutation away for the fuzzer); the second is
// one IPv6 address written two ways on servers with the same key hash,
// which grouping must not merge.
func TestReplicaOrderSurvivesMarshal(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(vectors, "desc-replicas.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const srvA = "xftp://AAMGCQwPEhUYGx4hJCcqLTAzNjk8P0JFSEtOUVRXWl0=@a.example.com"
	const srvC = "xftp://AQoTHCUuN0BJUltkbXZ_iJGao6y1vsfQ2eLr9P0GDxg=@c.example.com"
	for name, in := range map[string]string{
		"digest line's server sorts last": strings.Replace(string(b), "@a.example.com", "@z.example.com", 1),
		"one IPv6 address written two ways": strings.NewReplacer(
			srvA, "xftp://AAMGCQwPEhUYGx4hJCcqLTAzNjk8P0JFSEtOUVRXWl0=@[::1]",
			srvC, "xftp://AAMGCQwPEhUYGx4hJCcqLTAzNjk8P0JFSEtOUVRXWl0=@[0::1]").Replace(string(b)),
	} {
		d, err := Parse([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out, err := d.Marshal()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		d2, err := Parse(out)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(d, d2) {
			t.Errorf("%s: parse→marshal→parse changed the description", name)
		}
		if out2, _ := d2.Marshal(); !bytes.Equal(out, out2) {
			t.Errorf("%s: marshal is not stable:\n%s\n%s", name, out, out2)
		}
	}
	// The digest's line stays the chunk's first replica.
	d, err := Parse([]byte(strings.Replace(string(b), "@a.example.com", "@z.example.com", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if h := d.Chunks[0].Replicas[0].Server.Hosts[0]; h != "z.example.com" {
		t.Errorf("chunk 1's first replica is on %s, not on the server whose line carries its digest", h)
	}
}
