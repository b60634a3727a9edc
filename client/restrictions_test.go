package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/api/httpclient"
	"github.com/xftp/xftp/blocklist"
	"github.com/xftp/xftp/chunk"
	"github.com/xftp/xftp/identity"
	"github.com/xftp/xftp/internal/testrelay"
)

// blockingRelay answers, while mode is set, requests whose path ends with
// suffix with 451 and a record for the request's chunk ID: signed by the
// relay's identity ("valid") or by a stranger ("forged"). It counts the
// requests that reach it (identity checks aside).
type blockingRelay struct {
	*testrelay.Relay
	mode     atomic.Value // "", "valid" or "forged"
	suffix   atomic.Value
	requests atomic.Int32
}

func startBlockingRelay(t *testing.T) *blockingRelay {
	br := &blockingRelay{Relay: testrelay.Start(t, nil)}
	br.mode.Store("")
	br.suffix.Store("")
	stranger, _, err := identity.LoadOrCreate(filepath.Join(t.TempDir(), "id.pem"))
	if err != nil {
		t.Fatal(err)
	}
	br.Wrap = func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v1/identity" {
				next.ServeHTTP(w, r)
				return
			}
			br.requests.Add(1)
			mode := br.mode.Load().(string)
			if mode == "" || !strings.HasSuffix(r.URL.Path, br.suffix.Load().(string)) {
				next.ServeHTTP(w, r)
				return
			}
			parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/v1/chunks/"), "/")
			id, _ := base64.RawURLEncoding.DecodeString(parts[0])
			signer := br.Service.Identity()
			if mode == "forged" {
				signer = stranger
			}
			rec, err := blocklist.Sign(signer, blocklist.Record{
				ChunkID: id, Reason: blocklist.ReasonContent, Notice: "reported\x1b[31m abuse", BlockedAt: time.Now(), TTL: time.Hour,
				Restrictions: []blocklist.Restriction{blocklist.RestrictNoUploads, blocklist.RestrictNoSenderFiles},
			})
			if err != nil {
				t.Error(err)
			}
			b, _ := json.Marshal(api.BlockedResponse{Error: "BLOCKED", Record: rec.Marshal()})
			w.WriteHeader(451)
			w.Write(b)
		})
	}
	return br
}

func TestVerifiedBlockIsFinalAndRestrictsLaterTransfers(t *testing.T) {
	r := startBlockingRelay(t)
	dir := t.TempDir()
	in := writeRandomFile(t, dir, 1000, 11) // one chunk
	store := OpenRestrictions(filepath.Join(dir, "home", "restrictions.json"), nil)
	var warnings []string
	o := Options{Restrictions: store, Warn: func(s string) { warnings = append(warnings, s) }}
	ctx := context.Background()
	up, err := UploadFile(ctx, UploadFileRequest{Path: in, Servers: servers(r.Relay), Recipients: 1}, o)
	if err != nil {
		t.Fatal(err)
	}

	r.suffix.Store("/download")
	r.mode.Store("valid")
	r.requests.Store(0)
	_, err = DownloadFile(ctx, DownloadFileRequest{Description: up.Recipients[0], Output: filepath.Join(dir, "out")}, o)
	var be *BlockedError
	if !errors.As(err, &be) {
		t.Fatalf("download of a blocked chunk: %v", err)
	}
	if n := r.requests.Load(); n != 1 {
		t.Fatalf("%d requests for a blocked chunk; a verified block must not be retried", n)
	}
	msg := err.Error()
	for _, want := range []string{"chunk 1 of 1", r.Address.Redacted(), "content", "reported", "uploads to this operator", "downloads of files relayed through this operator", "until"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "\x1b") {
		t.Error("the notice reaches the terminal unfiltered")
	}
	var rbe *blocklist.BlockedError
	if !errors.As(err, &rbe) {
		t.Fatal("the blocklist record is not reachable with errors.As")
	}
	rs, err := store.List()
	if err != nil || len(rs) != 1 || rs[0].Server != r.Address.Fingerprint.String() || !rs[0].Has(blocklist.RestrictNoUploads) {
		t.Fatalf("restrictions recorded: %+v, %v", rs, err)
	}
	if fi, err := os.Stat(store.Path()); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("restriction store file: %v, %v", fi, err)
	}

	// The next upload to that operator is refused before any request.
	r.mode.Store("")
	r.requests.Store(0)
	_, err = UploadFile(ctx, UploadFileRequest{Path: in, Servers: servers(r.Relay), Recipients: 1}, o)
	var re *RestrictedError
	if !errors.As(err, &re) || re.Restriction != blocklist.RestrictNoUploads || r.requests.Load() != 0 {
		t.Fatalf("upload to a restricted operator: %v (%d requests)", err, r.requests.Load())
	}
	if !strings.Contains(err.Error(), "--ignore-restrictions") || !strings.Contains(err.Error(), r.Address.Fingerprint.String()) {
		t.Fatalf("message %q does not say how to override", err)
	}
	// So is a download of a file relayed through it (no_sender_files).
	_, err = DownloadFile(ctx, DownloadFileRequest{Description: up.Recipients[0], Output: filepath.Join(dir, "out")}, o)
	if !errors.As(err, &re) || re.Restriction != blocklist.RestrictNoSenderFiles {
		t.Fatalf("download via a restricted operator: %v", err)
	}
	// Overriding warns and proceeds.
	o2 := o
	o2.IgnoreRestrictions = true
	if _, err := UploadFile(ctx, UploadFileRequest{Path: in, Servers: servers(r.Relay), Recipients: 1}, o2); err != nil {
		t.Fatalf("upload ignoring restrictions: %v", err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "ignoring") {
		t.Fatalf("warnings %q", warnings)
	}
	// Clearing the operator's restrictions lifts them.
	if n, err := store.Clear(&r.Address.Fingerprint); err != nil || n != 1 {
		t.Fatalf("clear: %d, %v", n, err)
	}
	if _, err := UploadFile(ctx, UploadFileRequest{Path: in, Servers: servers(r.Relay), Recipients: 1}, o); err != nil {
		t.Fatalf("upload after clear: %v", err)
	}
}

func TestForgedBlockIsAnErrorOfTheServer(t *testing.T) {
	r := startBlockingRelay(t)
	dir := t.TempDir()
	in := writeRandomFile(t, dir, 10, 12)
	store := OpenRestrictions(filepath.Join(dir, "restrictions.json"), nil)
	o := Options{Restrictions: store}
	up, err := UploadFile(context.Background(), UploadFileRequest{Path: in, Servers: servers(r.Relay), Recipients: 1}, o)
	if err != nil {
		t.Fatal(err)
	}
	r.suffix.Store("/download")
	r.mode.Store("forged")
	_, err = DownloadFile(context.Background(), DownloadFileRequest{Description: up.Recipients[0], Output: filepath.Join(dir, "out")}, o)
	var be *blocklist.BlockedError
	if err == nil || errors.As(err, &be) || !errors.Is(err, httpclient.ErrInvalidBlockingRecord) {
		t.Fatalf("forged block: %v", err)
	}
	if !strings.Contains(err.Error(), "invalid blocking record") {
		t.Fatalf("message %q", err)
	}
	if rs, _ := store.List(); len(rs) != 0 {
		t.Fatal("a forged record restricted the client")
	}
}

func TestSenderDeleteReportsTheBlock(t *testing.T) {
	r := startBlockingRelay(t)
	dir := t.TempDir()
	in := writeRandomFile(t, dir, 300<<10, 13) // several chunks
	up, err := UploadFile(context.Background(), UploadFileRequest{Path: in, Servers: servers(r.Relay), Recipients: 1}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r.suffix.Store("") // every chunk request
	r.mode.Store("valid")
	_, err = Delete(context.Background(), up.Sender, Options{})
	var be *BlockedError
	if !errors.As(err, &be) || be.Op != "delete" || be.Chunk != 1 || be.Restricted != nil {
		t.Fatalf("delete of blocked chunks: %v", err)
	}
	if !strings.Contains(err.Error(), "chunk 1 of") {
		t.Fatalf("message %q", err)
	}
}

func TestRestrictionStore(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s := OpenRestrictions(filepath.Join(dir, "sub", "restrictions.json"), clock)
	id, _, _ := identity.LoadOrCreate(filepath.Join(dir, "id.pem"))
	addr := api.Address{Fingerprint: id.Fingerprint(), Host: "relay.example:443", Password: "secret"}
	rec := blocklist.Record{Server: id.Fingerprint(), Reason: "spam", BlockedAt: now.Add(-time.Minute), TTL: time.Hour}

	// Nothing known to apply: nothing recorded.
	if got, err := s.Add(addr, rec); got != nil || err != nil {
		t.Fatalf("record without restrictions: %+v, %v", got, err)
	}
	rec.Restrictions = []blocklist.Restriction{"future_thing"}
	if got, _ := s.Add(addr, rec); got != nil {
		t.Fatal("an unknown restriction was recorded")
	}
	// Already expired: nothing recorded.
	old := rec
	old.Restrictions = []blocklist.Restriction{blocklist.RestrictNoUploads}
	old.BlockedAt = now.Add(-2 * time.Hour)
	if got, _ := s.Add(addr, old); got != nil {
		t.Fatal("an expired restriction was recorded")
	}
	rec.Restrictions = []blocklist.Restriction{"future_thing", blocklist.RestrictNoUploads}
	got, err := s.Add(addr, rec)
	if err != nil || got == nil || len(got.Restrictions) != 1 || strings.Contains(got.Address, "secret") {
		t.Fatalf("add: %+v, %v", got, err)
	}
	s.Add(addr, rec) // the same record again is not duplicated
	if rs, _ := s.List(); len(rs) != 1 {
		t.Fatalf("%d restrictions, want 1", len(rs))
	}
	b, _ := os.ReadFile(s.Path())
	if strings.Contains(string(b), "secret") {
		t.Fatal("the store holds the server password")
	}
	// After the TTL it no longer applies.
	now = now.Add(2 * time.Hour)
	if rs, _ := s.List(); len(rs) != 0 {
		t.Fatalf("expired restriction still listed: %+v", rs)
	}
	// A damaged file is reported, and clear-all repairs it.
	os.WriteFile(s.Path(), []byte("{"), 0o600)
	if _, err := s.List(); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("damaged store: %v", err)
	}
	if _, err := s.Clear(nil); err != nil {
		t.Fatal(err)
	}
	if rs, err := s.List(); err != nil || len(rs) != 0 {
		t.Fatalf("after clear: %+v, %v", rs, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(s.Path()))
	if len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
}

func TestDefaultRestrictionsPath(t *testing.T) {
	t.Setenv("XFTP_HOME", "/tmp/xh")
	if p, _ := DefaultRestrictionsPath(); p != "/tmp/xh/restrictions.json" {
		t.Fatalf("with XFTP_HOME: %s", p)
	}
	t.Setenv("XFTP_HOME", "")
	t.Setenv("XDG_CONFIG_HOME", "/tmp/cfg")
	if p, _ := DefaultRestrictionsPath(); p != "/tmp/cfg/xftp/restrictions.json" {
		t.Fatalf("default: %s", p)
	}
}

// TestBlockMetOnTheWayRestrictsNothing: a description whose chunk names a
// blocked ID first and a working replica second (anyone holding a blocked
// ID and its key can make one) downloads, and the client records no
// restriction: only a block that stops a transfer does (issue 20, item 4).
func TestBlockMetOnTheWayRestrictsNothing(t *testing.T) {
	blocked := startBlockingRelay(t)
	good := startRelays(t, 1)[0]
	dir := t.TempDir()
	store := OpenRestrictions(filepath.Join(dir, "home", "restrictions.json"), nil)
	o := Options{Restrictions: store}
	ctx := context.Background()
	other, err := UploadFile(ctx, UploadFileRequest{Path: writeRandomFile(t, t.TempDir(), 1000, 71), Servers: servers(blocked.Relay), Recipients: 1}, o)
	if err != nil {
		t.Fatal(err)
	}
	in := writeRandomFile(t, dir, 1000, 72)
	up, err := UploadFile(ctx, UploadFileRequest{Path: in, Servers: servers(good), Recipients: 1}, o)
	if err != nil {
		t.Fatal(err)
	}
	d := up.Recipients[0]
	d.Chunks[0].Replicas = append([]chunk.Replica{other.Recipients[0].Chunks[0].Replicas[0]}, d.Chunks[0].Replicas...)
	blocked.suffix.Store("/download")
	blocked.mode.Store("valid")
	out := filepath.Join(dir, "out")
	if _, err := DownloadFile(ctx, DownloadFileRequest{Description: d, Output: out}, o); err != nil {
		t.Fatal(err)
	}
	if fileDigest(t, out) != fileDigest(t, in) {
		t.Fatal("output differs")
	}
	if rs, err := store.List(); err != nil || len(rs) != 0 {
		t.Fatalf("a block that stopped nothing was recorded: %+v, %v", rs, err)
	}
	// A block that does stop a download is recorded, and said.
	_, err = DownloadFile(ctx, DownloadFileRequest{Description: other.Recipients[0], Output: out + "2"}, o)
	if err == nil || !strings.Contains(err.Error(), "now refused by this client") {
		t.Fatalf("download stopped by a block: %v", err)
	}
	if rs, err := store.List(); err != nil || len(rs) != 1 {
		t.Fatalf("restrictions after a block stopped a download: %+v, %v", rs, err)
	}
}

// TestRestrictionStoreIsBounded: however many blocks are met, the store
// keeps the MaxRestrictions learnt last (issue 20, item 15).
func TestRestrictionStoreIsBounded(t *testing.T) {
	now := time.Now()
	clock := now
	s := OpenRestrictions(filepath.Join(t.TempDir(), "restrictions.json"), func() time.Time { return clock })
	id, _, _ := identity.LoadOrCreate(filepath.Join(t.TempDir(), "id.pem"))
	addr := api.Address{Fingerprint: id.Fingerprint(), Host: "h:1"}
	for i := range MaxRestrictions + 10 {
		clock = now.Add(time.Duration(i) * time.Second)
		rec := blocklist.Record{Server: id.Fingerprint(), Reason: blocklist.ReasonSpam, BlockedAt: clock, TTL: time.Hour,
			Restrictions: []blocklist.Restriction{blocklist.RestrictNoUploads}}
		if _, err := s.Add(addr, rec); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := s.List()
	if err != nil || len(rs) != MaxRestrictions {
		t.Fatalf("%d restrictions kept, %v", len(rs), err)
	}
	if rs[0].LearntAt.Before(now.Add(10 * time.Second)) {
		t.Fatalf("the oldest kept was learnt at %v; the first 10 should be gone", rs[0].LearntAt.Sub(now))
	}
}
