package server

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"testing"
)

// Digesting an uploaded chunk: SHA-256 alone, and through verifyingReader
// as Upload reads it (256 KiB reads, as the disk store copies).

func BenchmarkDigest4MiB(b *testing.B) {
	buf := make([]byte, 4<<20)
	rand.Read(buf)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		sha256.Sum256(buf)
	}
}

func BenchmarkVerifyingReader4MiB(b *testing.B) {
	body := make([]byte, 4<<20)
	rand.Read(body)
	want := sha256.Sum256(body)
	buf := make([]byte, 256<<10)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		vr := newVerifyingReader(bytes.NewReader(body), int64(len(body)), want)
		for {
			_, err := vr.Read(buf)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}
