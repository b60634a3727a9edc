package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/blocklist"
	"github.com/xftp/xftp/identity"
	"github.com/xftp/xftp/internal/testrelay"
)

// statusRelay answers status requests, while mode is set, with a 451 and a
// record carrying appeal code code ("block"), or after a long pause
// ("hang"). It counts create requests.
type statusRelay struct {
	*testrelay.Relay
	code    []byte
	mode    atomic.Value
	creates atomic.Int32

	mu       sync.Mutex
	statuses map[string]int  // status requests per connection (remote address)
	release  chan struct{}   // ends "hang" answers; closed at cleanup
	others   map[string]bool // connections of other chunk requests
}

// connections returns the connections that carried status requests and
// those that carried others.
func (sr *statusRelay) connections() (status map[string]int, others map[string]bool) {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	return maps.Clone(sr.statuses), maps.Clone(sr.others)
}

func startStatusRelay(t *testing.T) *statusRelay {
	sr := &statusRelay{Relay: testrelay.Start(t, nil), code: bytes.Repeat([]byte{0xc5}, blocklist.AppealCodeSize),
		statuses: map[string]int{}, others: map[string]bool{}, release: make(chan struct{})}
	t.Cleanup(func() { close(sr.release) })
	sr.mode.Store("")
	sr.Wrap = func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v1/chunks" {
				sr.creates.Add(1)
			}
			sr.mu.Lock()
			if strings.HasSuffix(r.URL.Path, "/status") {
				sr.statuses[r.RemoteAddr]++
			} else if strings.HasPrefix(r.URL.Path, "/v1/chunks") {
				sr.others[r.RemoteAddr] = true
			}
			sr.mu.Unlock()
			mode := sr.mode.Load().(string)
			if !strings.HasSuffix(r.URL.Path, "/status") || mode == "" {
				next.ServeHTTP(w, r)
				return
			}
			if mode == "hang" {
				select {
				case <-sr.release:
				case <-r.Context().Done():
				}
				return
			}
			id, _ := base64.RawURLEncoding.DecodeString(strings.Split(strings.TrimPrefix(r.URL.Path, "/v1/chunks/"), "/")[0])
			rec, err := blocklist.Sign(sr.Service.Identity(), blocklist.Record{
				ChunkID: id, Reason: blocklist.ReasonContent, BlockedAt: time.Now(), TTL: time.Hour,
				Restrictions: []blocklist.Restriction{blocklist.RestrictNoUploads}, AppealCode: sr.code,
			})
			if err != nil {
				t.Error(err)
			}
			b, _ := json.Marshal(api.BlockedResponse{Error: "BLOCKED", Record: rec.Marshal()})
			w.WriteHeader(451)
			w.Write(b)
		})
	}
	return sr
}

func TestUploadChecksEarlierUploadsAndAppealLifts(t *testing.T) {
	r := startStatusRelay(t)
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	store := OpenRestrictions(filepath.Join(home, "restrictions.json"), nil)
	sent := OpenSentIndex(filepath.Join(home, "sent.json"), nil)
	var mu sync.Mutex
	var warnings []string
	o := Options{Restrictions: store, Sent: sent, CheckEarlierUploads: true,
		Warn: func(s string) { mu.Lock(); warnings = append(warnings, s); mu.Unlock() }}
	ctx := context.Background()
	a := writeRandomFile(t, dir, 1000, 21)
	upA, err := UploadFile(ctx, UploadFileRequest{Path: a, Servers: servers(r.Relay), Recipients: 1}, o)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := sent.Descriptions()
	if err != nil || len(ds) != 1 {
		t.Fatalf("sent index: %d entries, %v", len(ds), err)
	}
	if fi, err := os.Stat(filepath.Join(home, "sent.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("sent index file: %v, %v", fi, err)
	}
	st, err := Status(ctx, upA.Sender, o)
	if err != nil || len(st.Replicas) != 1 || st.Replicas[0].State != StateUploaded || st.Replicas[0].RecipientIDs != 4 {
		t.Fatalf("status: %+v, %v", st, err)
	}
	if _, err := Status(ctx, upA.Recipients[0], o); err == nil {
		t.Fatal("status with a recipient's description")
	}

	// A status check that hangs never holds up an upload: the status
	// answer never comes (until the test ends), and the upload finishes
	// well within its deadline.
	r.mode.Store("hang")
	b := writeRandomFile(t, dir, 1000, 22)
	hangCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := UploadFile(hangCtx, UploadFileRequest{Path: b, Servers: servers(r.Relay), Recipients: 1}, o); err != nil {
		t.Fatalf("upload while status hangs: %v", err)
	}

	// The operator blocked an earlier upload: the next upload learns it
	// first and sends nothing.
	r.mode.Store("block")
	r.creates.Store(0)
	c := writeRandomFile(t, dir, 1000, 23)
	_, err = UploadFile(ctx, UploadFileRequest{Path: c, Servers: servers(r.Relay), Recipients: 1}, o)
	var re *RestrictedError
	if !errors.As(err, &re) || r.creates.Load() != 0 {
		t.Fatalf("upload after an earlier upload was blocked: %v (%d creates)", err, r.creates.Load())
	}
	if len(warnings) != 0 || !strings.Contains(err.Error(), "asked clients to stop uploading there") {
		t.Fatalf("refusal %q, warnings %q", err, warnings)
	}
	rs, _ := store.List()
	if len(rs) != 1 || !bytes.Equal(rs[0].AppealCode, r.code) {
		t.Fatalf("restriction: %+v", rs)
	}

	// Appeals: forged, other case, other operator refused; the right
	// proof lifts, and the still-blocked file does not restrict again.
	fp := r.Address.Fingerprint
	stranger, _, _ := identity.LoadOrCreate(filepath.Join(dir, "stranger.pem"))
	good, _ := blocklist.SignUnblock(r.Service.Identity(), r.code, time.Now())
	forged := *good
	forged.Signature = bytes.Clone(good.Signature)
	forged.Signature[0] ^= 1
	otherCase, _ := blocklist.SignUnblock(r.Service.Identity(), bytes.Repeat([]byte{1}, blocklist.AppealCodeSize), time.Now())
	otherOperator, _ := blocklist.SignUnblock(stranger, r.code, time.Now())
	keySwap := *good
	keySwap.PublicKey = stranger.Public()
	for _, tc := range []struct {
		name string
		p    *blocklist.SignedUnblockProof
		want error
	}{
		{"forged signature", &forged, blocklist.ErrBadSignature},
		{"stranger's key", &keySwap, blocklist.ErrWrongServer},
		{"another case", otherCase, blocklist.ErrWrongCase},
		{"another operator", otherOperator, ErrNothingToLift},
	} {
		if _, err := store.Lift(tc.p); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if rs, _ := store.List(); len(rs) != 1 {
		t.Fatal("a refused proof lifted something")
	}
	lifted, err := store.Lift(good)
	if err != nil || len(lifted) != 1 || lifted[0].Server != fp.String() {
		t.Fatalf("lift: %+v, %v", lifted, err)
	}
	if _, err := UploadFile(ctx, UploadFileRequest{Path: c, Servers: servers(r.Relay), Recipients: 1}, o); err != nil {
		t.Fatalf("upload after the appeal: %v", err)
	}
	if rs, _ := store.List(); len(rs) != 0 {
		t.Fatalf("the lifted case restricted again: %+v", rs)
	}
	if _, err := store.Lift(good); !errors.Is(err, ErrNothingToLift) {
		t.Fatalf("second lift: %v", err)
	}
}

func TestWatchIsBounded(t *testing.T) {
	r := testrelay.Start(t, nil)
	dir := t.TempDir()
	ctx := context.Background()
	up, err := UploadFile(ctx, UploadFileRequest{Path: writeRandomFile(t, dir, 1000, 31), Servers: servers(r), Recipients: 1}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	st, err := Watch(ctx, up.Sender, Options{}, WatchOptions{Interval: time.Second, MaxChecks: 2}, func(*FileStatus) { n++ })
	if err != nil || n != 2 || st.Count(StateUploaded) != 1 {
		t.Fatalf("watch: %d checks, %v", n, err)
	}
	// Once every chunk is gone, watching stops by itself.
	if _, err := Delete(ctx, up.Sender, Options{}); err != nil {
		t.Fatal(err)
	}
	n = 0
	st, err = Watch(ctx, up.Sender, Options{}, WatchOptions{Interval: time.Hour}, func(*FileStatus) { n++ })
	if err != nil || n != 1 || !st.Final() || st.Count(StateGone) != 1 {
		t.Fatalf("watch of a deleted file: %d checks, %+v, %v", n, st, err)
	}
	for range 100 {
		if d := jitter(time.Minute); d < 48*time.Second || d > 72*time.Second {
			t.Fatalf("jitter(1m) = %v", d)
		}
	}
}

// TestEarlierUploadsAreNotCheckedByDefault: an upload asks nothing about
// earlier uploads unless told to (a server asked could link them all to
// this upload and its address); when told to, each earlier upload is asked
// on a connection of its own, not the upload's (issue 20, item 2).
func TestEarlierUploadsAreNotCheckedByDefault(t *testing.T) {
	r := startStatusRelay(t)
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	o := Options{Restrictions: OpenRestrictions(filepath.Join(home, "restrictions.json"), nil),
		Sent: OpenSentIndex(filepath.Join(home, "sent.json"), nil)}
	ctx := context.Background()
	for i := range 3 {
		if _, err := UploadFile(ctx, UploadFileRequest{Path: writeRandomFile(t, dir, 1000, uint64(40+i)), Servers: servers(r.Relay), Recipients: 1}, o); err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := r.connections(); len(st) != 0 {
		t.Fatalf("status requests by default: %v", st)
	}
	if ds, err := o.Sent.Descriptions(); err != nil || len(ds) != 3 {
		t.Fatalf("sent index: %d entries, %v", len(ds), err)
	}

	o.CheckEarlierUploads = true
	if _, err := UploadFile(ctx, UploadFileRequest{Path: writeRandomFile(t, dir, 1000, 49), Servers: servers(r.Relay), Recipients: 1}, o); err != nil {
		t.Fatal(err)
	}
	st, others := r.connections()
	if len(st) != 3 {
		t.Fatalf("3 earlier uploads asked about on %d connections: %v", len(st), st)
	}
	for c := range st {
		if others[c] {
			t.Fatalf("an earlier upload was asked about on a connection that also uploaded: %v %v", st, others)
		}
	}
}
