package client_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"sync"

	"github.com/xftp/xftp/client"
)

// Upload bytes held in memory for one recipient, and download them into
// memory with the recipient's description: the engine reads an
// io.ReaderAt and writes an io.WriterAt, and touches no file. (Not run: it
// needs a relay.)
func Example() {
	ctx := context.Background()
	servers := []string{"xftp://Vkdap1RjR0wChd9dvyvKtz2mUTWIOem3dIGy6rEHcIw@files.example.org:443"}
	data := []byte("the quarterly report")
	up, err := client.Upload(ctx, client.UploadRequest{
		Source: bytes.NewReader(data), Size: int64(len(data)), Name: "report.txt",
		Servers: servers, Recipients: 1,
	}, client.Options{})
	if err != nil {
		log.Fatal(err)
	}
	// up.Recipients[0] goes to the recipient (as YAML or a link); up.Sender
	// stays with the sender, for status and delete.
	var dst memFile
	got, err := client.Download(ctx, client.DownloadRequest{Description: up.Recipients[0], Dest: &dst}, client.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %q\n", got.Name, dst.b[:got.Size])
}

// memFile is an io.WriterAt in memory. Download writes parts at their
// offsets from several goroutines, so it locks.
type memFile struct {
	mu sync.Mutex
	b  []byte
}

func (m *memFile) WriteAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if end := off + int64(len(p)); end > int64(len(m.b)) {
		m.b = append(m.b, make([]byte, end-int64(len(m.b)))...)
	}
	return copy(m.b[off:], p), nil
}

// Upload a file, keeping the upload's progress so that an interrupted
// upload continues, and download it into a folder: the file front end
// opens the file, writes into a temporary file renamed into place once
// verified, never overwrites, and resumes. (Not run: it needs a relay.)
func ExampleUploadFile() {
	ctx := context.Background()
	servers := []string{"xftp://Vkdap1RjR0wChd9dvyvKtz2mUTWIOem3dIGy6rEHcIw@files.example.org:443"}
	up, err := client.UploadFile(ctx, client.UploadFileRequest{
		Path: "report.pdf", Servers: servers, Recipients: 1, StateFile: ".report.pdf.upload-state",
	}, client.Options{})
	if err != nil {
		log.Fatal(err) // run again: the upload continues where it stopped
	}
	client.RemoveState(".report.pdf.upload-state") // once the descriptions are saved
	got, err := client.DownloadFile(ctx, client.DownloadFileRequest{
		Description: up.Recipients[0], Dir: "downloads", Resume: true,
	}, client.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(got.Path, got.Size)
}
