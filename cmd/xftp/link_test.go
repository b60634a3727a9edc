package main

import (
	"bytes"
	"crypto/ed25519"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/xftp/xftp/chunk"
)

func TestWebLink(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	d := &chunk.Description{Version: chunk.DescriptionVersion, Party: chunk.PartyRecipient, Size: 65536, Key: make([]byte, 32),
		Chunks: []chunk.ChunkRef{{Number: 1, Size: 65536, Replicas: []chunk.Replica{{
			Server: "xftp://Vkdap1RjR0wChd9dvyvKtz2mUTWIOem3dIGy6rEHcIw:secret@files.example.org:5443", ID: []byte("id"), Key: key}}}}}
	link, err := d.Link()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ flag, env, want string }{
		{"", "", "https://files.example.org:5443/d/#"},
		{"web.example.org", "", "https://web.example.org/d/#"},
		{"web.example.org:443", "", "https://web.example.org/d/#"},
		{"[2001:db8::1]:443", "", "https://[2001:db8::1]/d/#"},
		{"", "env.example.org:8443", "https://env.example.org:8443/d/#"},
		{"flag.example.org", "env.example.org", "https://flag.example.org/d/#"},
	} {
		t.Setenv("XFTP_WEB_HOST", tc.env)
		w := webFlags{on: true, host: tc.flag}
		got, err := w.link(d)
		if err != nil || got != tc.want+link {
			t.Errorf("--web-host %q, env %q: %q, %v; want %s…", tc.flag, tc.env, got, err, tc.want)
		}
		if strings.Contains(strings.SplitN(got, "#", 2)[0], "secret") {
			t.Errorf("the upload password is outside the fragment: %s", got)
		}
	}
	// The user is told which relay the link trusts (issue 20, item 7).
	t.Setenv("XFTP_WEB_HOST", "")
	var stderr bytes.Buffer
	cmd := &cobra.Command{}
	cmd.SetErr(&stderr)
	(&webFlags{on: true, host: "page.example.org"}).note(cmd, d)
	if !strings.Contains(stderr.String(), "trusts page.example.org") || !strings.Contains(stderr.String(), "--web-host") {
		t.Errorf("note: %q", stderr.String())
	}
	d.Party = chunk.PartySender
	if _, err := (&webFlags{on: true}).link(d); err == nil {
		t.Error("a sender description got a browser link")
	}
}
