package simplex

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"unicode/utf8"
)

func seedDescriptions(f *testing.F) {
	names, _ := filepath.Glob(filepath.Join(vectors, "desc-*.yaml"))
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(rfcExample))
}

// FuzzParse: Parse never panics, and what it accepts marshals to text that
// parses to the same description and the same bytes again.
func FuzzParse(f *testing.F) {
	seedDescriptions(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Parse(b)
		if err != nil {
			return
		}
		out, err := d.Marshal()
		if err != nil {
			t.Fatalf("accepted description does not marshal: %v", err)
		}
		d2, err := Parse(out)
		if err != nil {
			t.Fatalf("marshalled description does not parse: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(d, d2) {
			t.Fatalf("marshal/parse changed the description:\n%s\n%s", b, out)
		}
		out2, _ := d2.Marshal()
		if !bytes.Equal(out, out2) {
			t.Fatalf("marshal is not stable:\n%s\n%s", out, out2)
		}
	})
}

// FuzzParseLink: links never panic the parser, and accepted ones give a
// recipient description whose own links parse back to it.
func FuzzParseLink(f *testing.F) {
	names, _ := filepath.Glob(filepath.Join(vectors, "desc-*.fragment"))
	for _, n := range names {
		b, _ := os.ReadFile(n)
		f.Add("https://h.example/#" + string(bytes.TrimSpace(b)))
	}
	d, _ := Parse([]byte(rfcExample))
	u, _ := d.URI()
	f.Add(u)
	f.Add("simplex:/file#/?desc=%41&data=1")
	f.Fuzz(func(t *testing.T, link string) {
		d, err := ParseLink(link)
		if err != nil {
			return
		}
		if d.Party != Recipient {
			t.Fatal("a link gave a sender description")
		}
		want, _ := d.Marshal()
		for _, mk := range []func() (string, error){d.URI, func() (string, error) { return d.WebLink("") }} {
			l, err := mk()
			if err != nil {
				t.Fatal(err)
			}
			d2, err := ParseLink(l)
			if err != nil {
				t.Fatalf("own link does not parse: %v", err)
			}
			if got, _ := d2.Marshal(); !bytes.Equal(got, want) {
				t.Fatal("own link parses to another description")
			}
		}
	})
}

func FuzzParseServer(f *testing.F) {
	f.Add("xftp://AAMGCQwPEhUYGx4hJCcqLTAzNjk8P0JFSEtOUVRXWl0=@a.example.com")
	f.Add("xftp://AAMGCQwPEhUYGx4hJCcqLTAzNjk8P0JFSEtOUVRXWl0=@[::1]:443")
	f.Add("xftp://AAMGCQwPEhUYGx4hJCcqLTAzNjk8P0JFSEtOUVRXWl0@a,b:1")
	f.Fuzz(func(t *testing.T, s string) {
		srv, err := ParseServer(s)
		if err != nil {
			return
		}
		srv2, err := ParseServer(srv.String())
		if err != nil || srv2.String() != srv.String() {
			t.Fatalf("%q -> %q does not round-trip: %v", s, srv.String(), err)
		}
	})
}

// FuzzDecrypt: arbitrary ciphertext under a fixed key never panics and is
// refused unless it authenticates (which random input never does).
func FuzzDecrypt(f *testing.F) {
	b, err := os.ReadFile(filepath.Join(vectors, "file-1.enc"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b[:64], uint16(64))
	f.Add(b[:30], uint16(100))
	f.Fuzz(func(t *testing.T, data []byte, size uint16) {
		var key Key
		var nonce Nonce
		if _, err := Decrypt(io.Discard, bytes.NewReader(data), int64(size), key, nonce); err == nil {
			t.Fatal("random data decrypted")
		}
	})
}

// FuzzDecryptPlaintext: a file that authenticates (its sender holds the
// key) but whose plaintext is anything at all: its length field, header
// and padding are the sender's. Decrypt never panics, never reports it as
// altered, and what it accepts it writes exactly: the bytes after the
// header up to the declared length, and a name of valid UTF-8.
func FuzzDecryptPlaintext(f *testing.F) {
	body := bytes.Repeat([]byte{'#'}, 64)
	for _, head := range [][]byte{
		{0, 0, 0, 0, 0, 0, 0, 5, 1, 'a', '0', 'h', 'i'},
		{0, 0, 0, 0, 0, 0, 0, 8, 1, 'a', '1', 1, 'x', 'h', 'i', '!'},
		{0, 0, 0, 0, 0, 0, 0, 2, 0, '0'},
		{0x7f, 0, 0, 0, 0, 0, 0, 0, 1, 'a', '0'},
		{0, 0, 0, 0, 0, 0, 0, 2, 5, 'a'},
	} {
		f.Add(append(slices.Clone(head), body...))
	}
	var key Key
	var nonce Nonce
	f.Fuzz(func(t *testing.T, plain []byte) {
		if len(plain) < lenSize {
			return
		}
		sealed := sealPlaintext(key, nonce, plain)
		var out bytes.Buffer
		h, err := Decrypt(&out, bytes.NewReader(sealed), int64(len(sealed)), key, nonce)
		if errors.Is(err, ErrAuth) {
			t.Fatal("an authentic file reported as altered")
		}
		if err != nil {
			return
		}
		declared := binary.BigEndian.Uint64(plain)
		if declared > uint64(len(plain)-lenSize) || uint64(out.Len()) > declared {
			t.Fatalf("wrote %d bytes of a file declaring %d in %d", out.Len(), declared, len(plain)-lenSize)
		}
		end := lenSize + int(declared)
		if !bytes.Equal(out.Bytes(), plain[end-out.Len():end]) {
			t.Fatal("wrote other bytes than the file's")
		}
		if !utf8.ValidString(h.Name) || (h.Extra != nil && !utf8.ValidString(*h.Extra)) {
			t.Fatalf("header %q is not valid UTF-8", h.Name)
		}
	})
}
