package client

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/xftp/xftp/chunk"
)

// A resumed upload must not keep chunks that expire before it can finish.
func TestResumeRestartsExpiringChunks(t *testing.T) {
	relays := startRelays(t, 1)
	dir := t.TempDir()
	in := writeRandomFile(t, dir, 30<<20, 31)
	state := filepath.Join(dir, "state")
	req := UploadFileRequest{Path: in, Servers: servers(relays...), Recipients: 1, StateFile: state}
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int32
	_, err := UploadFile(ctx, req, Options{Parallel: 1, Progress: func(e Event) {
		if !e.Retry && n.Add(1) == 5 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted upload: %v", err)
	}
	// Age the saved chunks: they now expire within the hour.
	b, _ := os.ReadFile(state)
	var st uploadState
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	aged := 0
	for i := range st.Items {
		if st.Items[i].ExpiresAt != 0 {
			st.Items[i].ExpiresAt = 1
			aged++
		}
	}
	if aged == 0 {
		t.Fatal("the state records no expiry")
	}
	b, _ = json.Marshal(st)
	os.WriteFile(state, b, 0o600)
	up, err := UploadFile(context.Background(), req, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if up.Resumed != 0 {
		t.Fatalf("%d expiring chunks were kept", up.Resumed)
	}
	if err := roundTrip(t, up.Recipients[0], dir, in); err != nil {
		t.Fatal(err)
	}
}

func TestUploadRefusesTheSameServerTwice(t *testing.T) {
	r := startRelays(t, 1)[0]
	in := writeRandomFile(t, t.TempDir(), 10, 32)
	_, err := UploadFile(context.Background(), UploadFileRequest{Path: in, Servers: []string{r.Address.String(), r.Address.String()}, Recipients: 1}, Options{})
	if err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("same server twice: %v", err)
	}
}

// A state file whose partial is gone (or replaced) is not trusted.
func TestResumeIgnoresStateWithoutItsPartial(t *testing.T) {
	relays := startRelays(t, 1)
	dir := t.TempDir()
	in := writeRandomFile(t, dir, 30<<20, 33)
	up, err := UploadFile(context.Background(), UploadFileRequest{Path: in, Servers: servers(relays...), Recipients: 1}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	req := DownloadFileRequest{Description: up.Recipients[0], Output: out, Resume: true, Keep: true}
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int32
	DownloadFile(ctx, req, Options{Parallel: 1, Progress: func(e Event) {
		if !e.Retry && n.Add(1) == 4 {
			cancel()
		}
	}})
	partials, _ := filepath.Glob(filepath.Join(dir, ".xftp-*.partial"))
	if len(partials) != 1 {
		t.Fatalf("partials: %v", partials)
	}
	os.Remove(partials[0])
	if _, err := DownloadFile(context.Background(), req, Options{}); err != nil {
		t.Fatal(err)
	}
	if fileDigest(t, out) != fileDigest(t, in) {
		t.Fatal("a resume trusted a state whose partial was gone: the output differs")
	}
}

// An interrupted download through a redirect resumes: the redirect's
// chunks are acknowledged only after the file itself is down.
func TestRedirectDownloadResumes(t *testing.T) {
	relays := startRelays(t, 1)
	dir := t.TempDir()
	in := writeRandomFile(t, dir, 20<<20, 34)
	up, err := UploadFile(context.Background(), UploadFileRequest{Path: in, Servers: servers(relays...), Recipients: 1}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Redirect(context.Background(), up.Recipients[0], servers(relays...), Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	req := DownloadFileRequest{Description: r, Output: out, Resume: true}
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int32
	DownloadFile(ctx, req, Options{Parallel: 1, Progress: func(e Event) {
		if !e.Retry && n.Add(1) == 2 {
			cancel()
		}
	}})
	if _, err := DownloadFile(context.Background(), req, Options{}); err != nil {
		t.Fatalf("resumed download through a redirect: %v", err)
	}
	if fileDigest(t, out) != fileDigest(t, in) {
		t.Fatal("output differs")
	}
	// Now everything is acknowledged: the redirect is used up.
	if _, err := DownloadFile(context.Background(), DownloadFileRequest{Description: r, Output: out + "2"}, Options{Attempts: 1}); err == nil {
		t.Fatal("the redirect still works after a completed download (not acknowledged)")
	}
}

// Servers going away mid-download keep the verified part for a resume,
// with a one-line error.
func TestParityDownloadKeepsPartialWhenServersVanish(t *testing.T) {
	relays := startRelays(t, 3)
	dir := t.TempDir()
	in := writeRandomFile(t, dir, 40<<20, 35)
	up, err := UploadFile(context.Background(), UploadFileRequest{Path: in, Servers: servers(relays...), Recipients: 1,
		DataShards: 2, ParityShards: 1}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	_, err = DownloadFile(context.Background(), DownloadFileRequest{Description: up.Recipients[0], Output: filepath.Join(dir, "out"), Resume: true},
		Options{Parallel: 2, Attempts: 1, Progress: func(e Event) {
			if !e.Retry && n.Add(1) == 4 {
				for _, r := range relays {
					r.Stop()
				}
			}
		}})
	if err == nil || !errors.Is(err, chunk.ErrTooManyErasures) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("download with every server gone: %v", err)
	}
	if partials, _ := filepath.Glob(filepath.Join(dir, ".xftp-*.partial*")); len(partials) != 2 {
		t.Fatalf("the verified part was not kept: %v", partials)
	}
}
