package api_test

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/xftp/xftp/api"
)

func ExampleParseAddress() {
	a, err := api.ParseAddress("xftp://Vkdap1RjR0wChd9dvyvKtz2mUTWIOem3dIGy6rEHcIw:secret@files.example.org:443")
	fmt.Println(a.Host, a.Redacted(), err)
	_, err = api.ParseAddress("xftp://Vkdap1RjR0wChd9dvyvKtz2mUTWIOem3dIGy6rEHcIw:secret@files.example.org")
	fmt.Println(err)
	// Output:
	// files.example.org:443 xftp://Vkdap1RjR0wChd9dvyvKtz2mUTWIOem3dIGy6rEHcIw@files.example.org:443 <nil>
	// server address "xftp://Vkdap1RjR0wChd9dvyvKtz2mUTWIOem3dIGy6rEHcIw:xxxxx@files.example.org": want host:port after '@'
}

// A request is signed for one server, method, path and body.
func ExampleSign() {
	a, _ := api.ParseAddress("xftp://Vkdap1RjR0wChd9dvyvKtz2mUTWIOem3dIGy6rEHcIw@files.example.org:443")
	_, key, _ := ed25519.GenerateKey(nil)
	body := []byte(`{"key":"YFpyXSpK3-6xop4X7dYhwbdZPujNvESsbEq24vgF0jw"}`)
	h := api.Sign(key, a.Fingerprint, "POST", "/v1/chunks/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX/download", api.BodyHash(body), time.Now())
	parsed, err := api.ParseAuthHeader(h.String())
	fmt.Println(api.HeaderAuth, len(parsed.Nonce), len(parsed.Signature), err)
	// Output: Xftp-Auth 16 64 <nil>
}

// An error answer matches the sentinel of its code, whichever client
// received it.
func ExampleError() {
	var err error = fmt.Errorf("upload: %w", &api.Error{Status: 507, Code: api.CodeQuota})
	fmt.Println(errors.Is(err, api.ErrQuota), errors.Is(err, api.ErrAuth))
	var ae *api.Error
	errors.As(err, &ae)
	fmt.Println(ae.Temporary(), ae)
	// Output:
	// true false
	// false the server's storage quota is full (QUOTA)
}
