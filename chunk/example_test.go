package chunk_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"strings"

	"github.com/xftp/xftp/chunk"
)

// writerAt collects what an Opener writes.
type writerAt struct{ b []byte }

func (w *writerAt) WriteAt(p []byte, off int64) (int, error) {
	if n := int(off) + len(p); n > len(w.b) {
		w.b = append(w.b, make([]byte, n-len(w.b))...)
	}
	return copy(w.b[off:], p), nil
}

// A file is sealed into chunks from an io.ReaderAt and opened into an
// io.WriterAt, chunk by chunk, each checked against its digest.
func Example_sealAndOpen() {
	key, _ := chunk.NewKey()
	src := strings.NewReader("Hello, XFTP!\n")
	s, err := chunk.NewSealer(key, "hello.txt", src, src.Size())
	if err != nil {
		panic(err)
	}
	var chunks [][]byte
	for i := range s.ChunkSizes() {
		c, _ := io.ReadAll(s.Chunk(i))
		chunks = append(chunks, c)
	}

	dst := &writerAt{}
	o, err := chunk.NewOpener(key, s.ChunkSizes(), dst)
	if err != nil {
		panic(err)
	}
	for i, c := range chunks {
		if err := o.OpenChunk(i, sha256.Sum256(c), bytes.NewReader(c)); err != nil {
			panic(err)
		}
	}
	h, _ := o.Header()
	fmt.Printf("%d chunk(s) of %d bytes; %s, %d bytes\n", len(chunks), len(chunks[0]), h.Name, h.Size)
	// Output: 1 chunk(s) of 65536 bytes; hello.txt, 13 bytes
}
