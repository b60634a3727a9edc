package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/xftp/xftp/storage"
)

// truncatingStore stores what arrived of a Put that failed midway, over
// whatever was there, as some S3 implementations do (versitygw's posix
// backend): its writes are not atomic.
type truncatingStore struct {
	storage.Store
}

func (s truncatingStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	b, err := io.ReadAll(io.LimitReader(r, size))
	if perr := s.Store.Put(ctx, key, bytes.NewReader(b), int64(len(b))); perr != nil {
		return perr
	}
	if err == nil && int64(len(b)) < size {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// gatedReader yields its first half, then waits for release and fails.
type gatedReader struct {
	body    []byte
	half    bool
	reached chan struct{}
	release chan struct{}
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if !g.half {
		g.half = true
		return copy(p, g.body[:len(g.body)/2]), nil
	}
	close(g.reached)
	<-g.release
	return 0, errors.New("connection cut")
}

// TestCutAttemptNeverReplacesBody: on a store whose writes are not
// atomic, an upload attempt cut off midway after another attempt stored
// the chunk must not replace the stored body.
func TestCutAttemptNeverReplacesBody(t *testing.T) {
	f := newBlockFixture(t, false)
	f.svc.store = truncatingStore{f.store}
	ctx := context.Background()
	body := randomBody()
	tc := f.create(t, body, 1)
	c, sender, recipient := tc.created, tc.sender, tc.recipients[0]
	cut := &gatedReader{body: body, reached: make(chan struct{}), release: make(chan struct{})}
	failed := make(chan error, 1)
	go func() { failed <- f.svc.Upload(ctx, c.SenderID, signed(sender), cut, int64(len(body))) }()
	<-cut.reached // the first attempt is midway
	if err := f.svc.Upload(ctx, c.SenderID, signed(sender), bytes.NewReader(body), int64(len(body))); err != nil {
		t.Fatalf("second attempt: %v", err)
	}
	close(cut.release)
	if err := <-failed; err == nil {
		t.Fatal("the cut attempt succeeded")
	}
	b, err := f.svc.Open(ctx, c.RecipientIDs[0], signed(recipient))
	if err != nil {
		t.Fatalf("download after the cut attempt: %v", err)
	}
	got, err := io.ReadAll(b)
	b.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("download after the cut attempt: %d bytes, %v", len(got), err)
	}
	n := 0
	f.store.List(ctx, func(string) error { n++; return nil })
	if n != 1 {
		t.Fatalf("%d bodies stored, want 1 (the cut attempt's is cleaned up)", n)
	}
}

// unconfirmedRecords makes its change on SetUploaded and then fails it as
// unavailable, as Redis does when replicas do not confirm a write in time
// (or an answer is lost).
type unconfirmedRecords struct {
	storage.Records
}

func (r unconfirmedRecords) SetUploaded(ctx context.Context, key, body string) (string, error) {
	if _, err := r.Records.SetUploaded(ctx, key, body); err != nil {
		return "", err
	}
	return "", storage.ErrUnavailable
}

// TestUnconfirmedUploadKeepsBody: an upload whose SetUploaded failed may
// have been recorded all the same, so its body must stay: deleting it
// left a chunk marked uploaded without a body (CORRUPT downloads after a
// Redis master was killed, e2e TestClusterMasterKilledUnderLoad).
func TestUnconfirmedUploadKeepsBody(t *testing.T) {
	f := newBlockFixture(t, false)
	ctx := context.Background()
	body := randomBody()
	tc := f.create(t, body, 1)
	c, sender, recipient := tc.created, tc.sender, tc.recipients[0]
	records := f.svc.records
	f.svc.records = unconfirmedRecords{records}
	if err := f.svc.Upload(ctx, c.SenderID, signed(sender), bytes.NewReader(body), int64(len(body))); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("upload: %v, want ErrUnavailable", err)
	}
	f.svc.records = records
	// The client's retry finds the chunk uploaded.
	if err := f.svc.Upload(ctx, c.SenderID, signed(sender), bytes.NewReader(body), int64(len(body))); err != nil {
		t.Fatalf("retry: %v", err)
	}
	b, err := f.svc.Open(ctx, c.RecipientIDs[0], signed(recipient))
	if err != nil {
		t.Fatalf("download: %v", err)
	}
	got, err := io.ReadAll(b)
	b.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("download: %d bytes, %v", len(got), err)
	}
}
