package client

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// A retry with other servers after a failed attempt starts over instead of
// refusing the earlier attempt's state (issue 18): the user corrected the
// address and must not have to find and remove a hidden file.
func TestRetryWithOtherServersStartsOver(t *testing.T) {
	relays := startRelays(t, 2)
	dir := t.TempDir()
	in := writeRandomFile(t, dir, 3<<20, 18)
	state := filepath.Join(dir, "state")
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int32
	_, err := UploadFile(ctx, UploadFileRequest{Path: in, Servers: servers(relays[0]), Recipients: 1, StateFile: state},
		Options{Parallel: 1, Progress: func(e Event) {
			if !e.Retry && n.Add(1) == 1 {
				cancel()
			}
		}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted upload: %v", err)
	}
	if _, err := os.Stat(state); err != nil {
		t.Fatalf("the interrupted upload left no state: %v", err)
	}
	up, err := UploadFile(context.Background(), UploadFileRequest{Path: in, Servers: servers(relays[1]), Recipients: 1, StateFile: state}, Options{})
	if err != nil {
		t.Fatalf("retry with another server: %v", err)
	}
	if !strings.Contains(up.StartedOver, "servers differ") || up.Resumed != 0 {
		t.Fatalf("StartedOver %q, Resumed %d; want a start-over naming the servers", up.StartedOver, up.Resumed)
	}
	if err := roundTrip(t, up.Recipients[0], dir, in); err != nil {
		t.Fatal(err)
	}
	// An unreadable state is set aside the same way.
	os.WriteFile(state, []byte("{not json"), 0o600)
	up, err = UploadFile(context.Background(), UploadFileRequest{Path: in, Servers: servers(relays[1]), Recipients: 1, StateFile: state}, Options{})
	if err != nil {
		t.Fatalf("upload over an unreadable state: %v", err)
	}
	if !strings.Contains(up.StartedOver, "unreadable") {
		t.Fatalf("unreadable state: StartedOver %q", up.StartedOver)
	}
}
