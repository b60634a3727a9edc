package main

import (
	"crypto/rand"
	"testing"

	"github.com/klauspost/reedsolomon"
)

// Reed-Solomon 4+2 over 4 MiB shards, the striping issue 5 plans (no
// package holds erasure coding yet, so the benchmark lives here). Bytes are
// data bytes in (4 shards).

func BenchmarkReedSolomon4x2Encode(b *testing.B) {
	enc, err := reedsolomon.New(4, 2)
	if err != nil {
		b.Fatal(err)
	}
	shards := make([][]byte, 6)
	for i := range shards {
		shards[i] = make([]byte, 4<<20)
		if i < 4 {
			rand.Read(shards[i])
		}
	}
	b.SetBytes(4 * 4 << 20)
	for b.Loop() {
		if err := enc.Encode(shards); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReedSolomon4x2Reconstruct2(b *testing.B) {
	enc, err := reedsolomon.New(4, 2)
	if err != nil {
		b.Fatal(err)
	}
	shards := make([][]byte, 6)
	for i := range shards {
		shards[i] = make([]byte, 4<<20)
		if i < 4 {
			rand.Read(shards[i])
		}
	}
	if err := enc.Encode(shards); err != nil {
		b.Fatal(err)
	}
	lost := [][]byte{shards[0], shards[3]}
	b.SetBytes(4 * 4 << 20)
	for b.Loop() {
		shards[0], shards[3] = lost[0][:0], lost[1][:0]
		if err := enc.ReconstructData(shards); err != nil {
			b.Fatal(err)
		}
	}
}
