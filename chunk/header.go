package chunk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

const (
	// HeaderSize is the size of the header that precedes the file in the
	// encrypted stream.
	HeaderSize = 512
	// MaxNameLen is the longest file name, in bytes.
	MaxNameLen = 255

	headerVersion = 1
	nameOffset    = 11 // version (1) + size (8) + name length (2)
)

// ErrHeader is returned when the decrypted header is malformed or does not
// match the chunk sizes it arrived in.
var ErrHeader = errors.New("chunk: malformed file header")

// Header is what the encrypted stream says about the file.
type Header struct {
	Name string // base name, valid per the rules of NewSealer
	Size int64  // file size in bytes
}

// checkName reports whether name is a valid base file name: 1..MaxNameLen
// bytes of UTF-8 without '/', '\\' or NUL, and not "." or "..".
func checkName(name string) error {
	switch {
	case len(name) == 0 || len(name) > MaxNameLen:
		return fmt.Errorf("file name is %d bytes, want 1..%d", len(name), MaxNameLen)
	case !utf8.ValidString(name):
		return errors.New("file name is not valid UTF-8")
	case strings.ContainsAny(name, "/\\\x00"):
		return fmt.Errorf("file name %q contains '/', '\\' or NUL", name)
	case name == "." || name == "..":
		return fmt.Errorf("file name %q is not allowed", name)
	}
	return nil
}

// sanitizeName reduces a path to its base name and checks it.
func sanitizeName(name string) (string, error) {
	base := filepath.Base(name)
	if err := checkName(base); err != nil {
		return "", err
	}
	return base, nil
}

// marshal writes h into b, which is HeaderSize zero bytes. h must be valid.
func (h Header) marshal(b []byte) {
	b[0] = headerVersion
	binary.BigEndian.PutUint64(b[1:9], uint64(h.Size))
	binary.BigEndian.PutUint16(b[9:11], uint16(len(h.Name)))
	copy(b[nameOffset:], h.Name)
}

// parseHeader parses the first HeaderSize bytes of the plaintext stream.
func parseHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: %d bytes, want %d", ErrHeader, len(b), HeaderSize)
	}
	b = b[:HeaderSize]
	if b[0] != headerVersion {
		return Header{}, fmt.Errorf("%w: version %d, want %d", ErrHeader, b[0], headerVersion)
	}
	size := binary.BigEndian.Uint64(b[1:9])
	if size > maxFileSize {
		return Header{}, fmt.Errorf("%w: file size %d is too large", ErrHeader, size)
	}
	n := int(binary.BigEndian.Uint16(b[9:11]))
	if n > MaxNameLen {
		return Header{}, fmt.Errorf("%w: name length %d exceeds %d", ErrHeader, n, MaxNameLen)
	}
	name := string(b[nameOffset : nameOffset+n])
	if err := checkName(name); err != nil {
		return Header{}, fmt.Errorf("%w: %v", ErrHeader, err)
	}
	for _, c := range b[nameOffset+n:] {
		if c != 0 {
			return Header{}, fmt.Errorf("%w: non-zero bytes after the name", ErrHeader)
		}
	}
	return Header{Name: name, Size: int64(size)}, nil
}
