package chunk

import "github.com/xftp/xftp/internal/stream"

// Chunk sizes the servers accept. Every chunk is one of these.
const (
	Size64K  = 64 << 10
	Size256K = 256 << 10
	Size1M   = 1 << 20
	Size4M   = 4 << 20
)

const (
	// KeySize is the size of a file key.
	KeySize = stream.KeySize
	// SegmentSize is the plaintext size of one sealed segment.
	SegmentSize = stream.DefaultSegmentSize
	// SealedSegmentSize is the size of one sealed segment; every chunk
	// size is a multiple of it.
	SealedSegmentSize = SegmentSize + stream.TagSize
	// MaxChunks is the largest number of chunks a file may have
	// (4 TiB of 4 MiB chunks).
	MaxChunks = 1 << 20
)

// DefaultSizes returns the chunk sizes in increasing order, as a fresh
// slice the caller may modify.
func DefaultSizes() []int64 {
	return []int64{Size64K, Size256K, Size1M, Size4M}
}

// Plan returns the chunk sizes for payload bytes of ciphertext, large
// chunks first. Their sum is at least payload, and there is always at least
// one chunk.
//
// The chunk pair is (1 MiB, 4 MiB) when payload exceeds 3/4 of 4 MiB,
// (256 KiB, 1 MiB) when it exceeds 3/4 of 1 MiB, else (64 KiB, 256 KiB).
// As many large chunks as fit fully are used; a remainder above 3/4 of a
// large chunk takes one more large chunk, a smaller one as many small
// chunks as it needs.
func Plan(payload int64) []int64 {
	var small, large int64
	switch {
	case payload > Size4M/4*3:
		small, large = Size1M, Size4M
	case payload > Size1M/4*3:
		small, large = Size256K, Size1M
	default:
		small, large = Size64K, Size256K
	}
	if payload <= 0 {
		return []int64{small}
	}
	n := payload / large
	r := payload - n*large
	var m int64 // small chunks
	switch {
	case r > large/4*3:
		n++
	case r > 0:
		m = (r + small - 1) / small
	}
	sizes := make([]int64, 0, n+m)
	for range n {
		sizes = append(sizes, large)
	}
	for range m {
		sizes = append(sizes, small)
	}
	return sizes
}

// fileSegments returns the number of segments needed for a file of size
// bytes, before padding to the chunk plan.
func fileSegments(size int64) int64 {
	return (HeaderSize + size + SegmentSize - 1) / SegmentSize
}

// filePlan returns the chunk sizes of a file of size bytes.
func filePlan(size int64) []int64 {
	return Plan(fileSegments(size) * SealedSegmentSize)
}

// maxFileSize bounds file sizes so that no arithmetic on virtual offsets
// overflows; it is far above what MaxChunks allows.
const maxFileSize = 1 << 50
