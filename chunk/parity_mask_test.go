package chunk

import (
	"bytes"
	"crypto/rand"
	"testing"
)

func TestMaskParity(t *testing.T) {
	key := make([]byte, KeySize)
	rand.Read(key)
	data := make([]byte, 64<<10)
	rand.Read(data)
	a := bytes.Clone(data)
	if err := MaskParity(key, 3, 1, a); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, data) {
		t.Fatal("masking changed nothing")
	}
	b := bytes.Clone(data)
	MaskParity(key, 3, 0, b)
	c := bytes.Clone(data)
	MaskParity(key, 4, 1, c)
	if bytes.Equal(a, b) || bytes.Equal(a, c) {
		t.Fatal("different positions got the same mask")
	}
	MaskParity(key, 3, 1, a)
	if !bytes.Equal(a, data) {
		t.Fatal("masking twice is not the identity")
	}
}
