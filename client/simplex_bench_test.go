package client

import (
	"bytes"
	"context"
	"testing"
)

// The SimpleX download into an io.WriterAt (in order, from memory) beside
// the file front end's (the encrypted file staged on disk, then decrypted
// into another), for a 32 MiB file from fake servers.
func BenchmarkSimplexDownload(b *testing.B) {
	fn := newFakeNet(3)
	data := randomBytes(32<<20, 11)
	up, err := UploadSimplex(context.Background(), SimplexUploadRequest{Source: bytes.NewReader(data), Size: int64(len(data)), Name: "f",
		Servers: fn.addrs, Recipients: 1, dial: fn.dial}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	d := up.Recipients[0]
	b.Run("writer", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var dst syncWriterAt
			if _, err := DownloadSimplex(context.Background(), SimplexDownloadRequest{Description: d, Dest: &dst, Keep: true, dial: fn.dial}, Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("file", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := DownloadSimplexFile(context.Background(), SimplexDownloadFileRequest{Description: d, Dir: b.TempDir(), Keep: true, dial: fn.dial}, Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
