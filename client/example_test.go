package client_test

import (
	"context"
	"fmt"
	"log"

	"github.com/xftp/xftp/client"
)

// Upload a file for one recipient and download it with the recipient's
// description. (Not run: it needs a relay.)
func Example() {
	ctx := context.Background()
	servers := []string{"xftp://Vkdap1RjR0wChd9dvyvKtz2mUTWIOem3dIGy6rEHcIw@files.example.org:443"}
	up, err := client.Upload(ctx, client.UploadRequest{Path: "report.pdf", Servers: servers, Recipients: 1}, client.Options{})
	if err != nil {
		log.Fatal(err)
	}
	// up.Recipients[0] goes to the recipient (as YAML or a link); up.Sender
	// stays with the sender, for status and delete.
	got, err := client.Download(ctx, client.DownloadRequest{Description: up.Recipients[0], Dir: "downloads"}, client.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(got.Path, got.Size)
}
