package simplex

import "fmt"

// Chunk sizes XFTP servers accept.
const (
	Size64K  = 64 << 10
	Size256K = 256 << 10
	Size1M   = 1 << 20
	Size4M   = 4 << 20
)

// ChunkSizes lists the chunk sizes servers accept, in increasing order.
var ChunkSizes = [...]int64{Size64K, Size256K, Size1M, Size4M}

// validChunkSize reports whether n is one of ChunkSizes.
func validChunkSize(n int64) bool {
	for _, s := range ChunkSizes {
		if n == s {
			return true
		}
	}
	return false
}

// Size limits.
const (
	// MaxFileSize is the largest file SimpleX's clients send (1 GiB; its
	// "soft" limit): Upload refuses bigger files.
	MaxFileSize = 1 << 30
	// MaxFileSizeHard is the limit past which SimpleX's agent refuses to
	// prepare chunks (5 GiB); descriptions of bigger files are refused.
	MaxFileSizeHard = 5 << 30
	// MaxChunks bounds the chunks of a description: a MaxFileSizeHard file
	// cut into 4 MiB chunks, plus room for the small ones at the end.
	MaxChunks = MaxFileSizeHard/Size4M + 16
	// lenSize is the size of the length prefix of the plaintext stream.
	lenSize = 8
)

// PlanChunks returns the chunk sizes for payload bytes, as SimpleX's
// prepareChunkSizes does: the pair (1 MiB, 4 MiB) when payload exceeds
// 3/4 of 4 MiB, (256 KiB, 1 MiB) when it exceeds 3/4 of 1 MiB, else
// (64 KiB, 256 KiB); as many large chunks as fit, then a remainder above
// 3/4 of a large chunk takes one more large chunk and a smaller one as many
// small chunks as it needs. PlanChunks(0) is empty.
func PlanChunks(payload int64) []int64 {
	var small, large int64
	switch {
	case payload > Size4M*3/4:
		small, large = Size1M, Size4M
	case payload > Size1M*3/4:
		small, large = Size256K, Size1M
	default:
		small, large = Size64K, Size256K
	}
	var sizes []int64
	for payload >= large {
		sizes = append(sizes, large)
		payload -= large
	}
	switch {
	case payload > large*3/4:
		sizes = append(sizes, large)
	case payload > 0:
		for n := (payload + small - 1) / small; n > 0; n-- {
			sizes = append(sizes, small)
		}
	}
	return sizes
}

// SingleChunk returns the smallest chunk size that holds payload, as
// SimpleX's agent sizes a redirect, or an error when none does.
func SingleChunk(payload int64) (int64, error) {
	for _, s := range ChunkSizes {
		if payload <= s {
			return s, nil
		}
	}
	return 0, fmt.Errorf("simplex: %d bytes do not fit in one chunk", payload)
}

// Payload returns the encrypted payload of a file: the length prefix, the
// encoded header, the file and the tag. PlanChunks(Payload(...)) are the
// file's chunk sizes.
func Payload(headerLen int, fileSize int64) int64 {
	return lenSize + int64(headerLen) + fileSize + TagSize
}
