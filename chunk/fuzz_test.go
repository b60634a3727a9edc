package chunk

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzParseHeader: the decrypted header is the sender's to write, so any
// 512 bytes either parse to the one header that marshals back to them
// (a valid name, zeros after it) or are refused as ErrHeader.
func FuzzParseHeader(f *testing.F) {
	for _, h := range []Header{{Name: "a.txt", Size: 5}, {Name: string(bytes.Repeat([]byte{'x'}, MaxNameLen)), Size: maxFileSize}} {
		b := make([]byte, HeaderSize)
		h.marshal(b)
		f.Add(b)
	}
	f.Add(make([]byte, HeaderSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseHeader(b)
		if err != nil {
			if !errors.Is(err, ErrHeader) {
				t.Fatalf("refusal %v is not ErrHeader", err)
			}
			return
		}
		if err := checkName(h.Name); err != nil || h.Size < 0 || h.Size > maxFileSize {
			t.Fatalf("accepted header %q of %d bytes: %v", h.Name, h.Size, err)
		}
		got := make([]byte, HeaderSize)
		h.marshal(got)
		if !bytes.Equal(got, b[:HeaderSize]) {
			t.Fatalf("header %x parses to %+v, which marshals to %x", b[:HeaderSize], h, got)
		}
	})
}
