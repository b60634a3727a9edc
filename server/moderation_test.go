package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/xftp/xftp/blocklist"
	"github.com/xftp/xftp/identity"
	"github.com/xftp/xftp/reports"
	"github.com/xftp/xftp/storage/disk"
	"github.com/xftp/xftp/storage/embedded"
)

type countMetrics struct {
	mu sync.Mutex
	n  map[Event]int
}

func (m *countMetrics) Count(e Event, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.n == nil {
		m.n = map[Event]int{}
	}
	m.n[e] += n
}

func (m *countMetrics) Bytes(Event, int64) {}

func (m *countMetrics) get(e Event) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n[e]
}

type moderationFixture struct {
	*blockFixture
	reports reports.Store
	metrics *countMetrics
}

// newModerationFixture is a service with a blocklist, an audit log, a
// report store and counting metrics, all on one bbolt file.
func newModerationFixture(t *testing.T, reportsPerMinute int) *moderationFixture {
	t.Helper()
	dir := t.TempDir()
	f := &moderationFixture{blockFixture: &blockFixture{audit: &memAudit{}}, metrics: &countMetrics{}}
	var err error
	if f.id, _, err = identity.LoadOrCreate(filepath.Join(dir, "identity.pem")); err != nil {
		t.Fatal(err)
	}
	if f.store, err = disk.Open(filepath.Join(dir, "chunks")); err != nil {
		t.Fatal(err)
	}
	records, err := embedded.Open(filepath.Join(dir, "records.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { records.Close() })
	if f.blocks, err = embedded.NewBlocklist(records); err != nil {
		t.Fatal(err)
	}
	if f.reports, err = embedded.NewReports(records, nil); err != nil {
		t.Fatal(err)
	}
	f.svc, err = New(DefaultConfig(), Options{Identity: f.id, Store: f.store, Records: records, Blocklist: f.blocks,
		Audit: f.audit, Reports: f.reports, ReportsPerMinute: reportsPerMinute, Metrics: f.metrics})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// download fetches the chunk as recipient i, reading n bytes of the
// sealed body (all if n < 0).
func (f *moderationFixture) download(t *testing.T, c *testChunk, i int, n int64) {
	t.Helper()
	d, err := f.svc.Download(context.Background(), c.created.RecipientIDs[i], x25519Key(), signed(c.recipients[i]))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Body.Close()
	if n < 0 {
		if _, err := io.Copy(io.Discard, d.Body); err != nil {
			t.Fatal(err)
		}
		return
	}
	io.CopyN(io.Discard, d.Body, n)
}

func (f *moderationFixture) status(t *testing.T, c *testChunk) *ChunkStatus {
	t.Helper()
	st, err := f.svc.Status(context.Background(), c.created.SenderID, signed(c.sender))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestStatusDeliveryReceipts(t *testing.T) {
	f := newModerationFixture(t, 0)
	ctx := context.Background()
	// Two real recipients padded to four IDs, as clients do.
	c := f.upload(t, randomBody(), 4)
	want := func(what string, downloaded, acked int) {
		t.Helper()
		st := f.status(t, c)
		if !st.Uploaded || st.RecipientIDs != 4 || st.Downloaded != downloaded || st.Acked != acked {
			t.Fatalf("%s: status %+v, want uploaded, 4 recipient IDs, %d downloaded, %d acked", what, st, downloaded, acked)
		}
	}
	want("fresh", 0, 0)
	f.download(t, c, 0, 1000) // broken off: no receipt
	want("after a partial download", 0, 0)
	f.download(t, c, 0, -1)
	f.download(t, c, 0, -1)
	want("after recipient 0 downloaded twice", 1, 0)
	f.download(t, c, 1, -1)
	want("after recipient 1 downloaded", 2, 0)
	if err := f.svc.Ack(ctx, c.created.RecipientIDs[0], signed(c.recipients[0])); err != nil {
		t.Fatal(err)
	}
	want("after recipient 0 acknowledged", 2, 1)
	if err := f.svc.Ack(ctx, c.created.RecipientIDs[1], signed(c.recipients[1])); err != nil {
		t.Fatal(err)
	}
	want("after both acknowledged", 2, 2) // the padding IDs never count

	// Only the sender may ask: a recipient, a wrong key and a replayed
	// nonce are refused like any other request.
	if _, err := f.svc.Status(ctx, c.created.RecipientIDs[2], signed(c.recipients[2])); !errors.Is(err, ErrAuth) {
		t.Fatalf("status by a recipient ID: %v", err)
	}
	if _, err := f.svc.Status(ctx, c.created.SenderID, signed(newKey())); !errors.Is(err, ErrAuth) {
		t.Fatalf("status with a wrong key: %v", err)
	}
	a := signed(c.sender)
	f.svc.Status(ctx, c.created.SenderID, a)
	if _, err := f.svc.Status(ctx, c.created.SenderID, a); !errors.Is(err, ErrAuth) {
		t.Fatalf("replayed status: %v", err)
	}

	// Not uploaded yet.
	k := newKey()
	created, err := f.svc.Create(ctx, CreateRequest{SenderKey: k.Public().(ed25519.PublicKey), Size: 64 << 10,
		RecipientKeys: []ed25519.PublicKey{newKey().Public().(ed25519.PublicKey)}}, signed(k))
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.svc.Status(ctx, created.SenderID, signed(k))
	if err != nil || st.Uploaded || st.RecipientIDs != 1 {
		t.Fatalf("status before upload: %+v, %v", st, err)
	}

	// Deleted: AUTH, like expired.
	if err := f.svc.Delete(ctx, created.SenderID, signed(k)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Status(ctx, created.SenderID, signed(k)); !errors.Is(err, ErrAuth) {
		t.Fatalf("status after delete: %v", err)
	}

	// Blocked: the record signed for the sender ID.
	if _, err := NewModeration(f.svc).Block(ctx, BlockRequest{ID: c.created.SenderID, Reason: blocklist.ReasonSpam}); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Status(ctx, c.created.SenderID, signed(c.sender))
	wantBlocked(t, f.blockFixture, err, c.created.SenderID, "status of a blocked chunk")
}

func TestReportsMergeLimitAndBlock(t *testing.T) {
	f := newModerationFixture(t, 3)
	ctx := context.Background()
	a := f.upload(t, randomBody(), 4)
	b := f.upload(t, randomBody(), 4)
	report := func(c *testChunk, i int, reason, contact string) error {
		return f.svc.Report(ctx, c.created.RecipientIDs[i], ReportRequest{Reason: reason, Contact: contact}, signed(c.recipients[i]))
	}
	// Refused before they count against the global budget.
	if err := report(a, 0, "Content", ""); !errors.Is(err, ErrSyntax) {
		t.Fatalf("bad reason: %v", err)
	}
	if err := report(a, 0, "content", "bell\a"); !errors.Is(err, ErrSyntax) {
		t.Fatalf("bad contact: %v", err)
	}
	if err := f.svc.Report(ctx, a.created.RecipientIDs[0], ReportRequest{Reason: "spam"}, signed(newKey())); !errors.Is(err, ErrAuth) {
		t.Fatalf("report with a wrong key: %v", err)
	}
	if err := f.svc.Report(ctx, a.created.SenderID, ReportRequest{Reason: "spam"}, signed(a.sender)); !errors.Is(err, ErrAuth) {
		t.Fatalf("report by the sender ID: %v", err)
	}
	// Three accepted reports: two of chunk a merge into one.
	for _, err := range []error{report(a, 0, "content", "mod@example.org"), report(a, 1, "spam", ""), report(b, 0, "spam", "")} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := report(b, 1, "spam", ""); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("a fourth report within the global budget of 3: %v", err)
	}
	if got := f.metrics.get(EventReported); got != 3 {
		t.Fatalf("reports counted: %d, want 3", got)
	}
	rs, _, err := NewModeration(f.svc).ListReports(ctx, "", 0)
	if err != nil || len(rs) != 2 {
		t.Fatalf("ListReports: %d, %v; want 2 (one per chunk)", len(rs), err)
	}
	// Reports are listed by ID, which orders them by millisecond only: the
	// two may share one, so pick chunk a's by its sender ID.
	ra, rb := rs[0], rs[1]
	if !bytes.Equal(ra.SenderID, a.created.SenderID) {
		ra, rb = rb, ra
	}
	if ra.Count != 2 || ra.Reasons["content"] != 1 || ra.Reasons["spam"] != 1 || len(ra.Contacts) != 1 ||
		!bytes.Equal(ra.SenderID, a.created.SenderID) {
		t.Fatalf("report of chunk a: %+v", ra)
	}

	// One step from report to block.
	bc, err := NewModeration(f.svc).BlockReport(ctx, ra.ID, BlockRequest{Reason: blocklist.ReasonContent,
		Restrictions: []blocklist.Restriction{blocklist.RestrictNoUploads}})
	if err != nil {
		t.Fatal(err)
	}
	if len(bc.Keys) != 6 {
		t.Fatalf("block from report: %d keys, want sender, 4 recipients, digest", len(bc.Keys))
	}
	_, err = f.svc.Status(ctx, a.created.SenderID, signed(a.sender))
	wantBlocked(t, f.blockFixture, err, a.created.SenderID, "sender's status after the block")
	if _, err := NewModeration(f.svc).GetReport(ctx, ra.ID); !errors.Is(err, ErrUnknownReport) {
		t.Fatalf("report after its block: %v", err)
	}
	if got := f.metrics.get(EventBlockedFromReport); got != 1 {
		t.Fatalf("blocks from reports counted: %d", got)
	}
	ev := f.audit.events[len(f.audit.events)-1]
	if ev.Action != "block" || ev.Report == "" {
		t.Fatalf("audit event %+v does not name the report", ev)
	}
	// A blocked chunk's report answers with the record.
	err = f.svc.Report(ctx, a.created.RecipientIDs[2], ReportRequest{Reason: "spam"}, signed(a.recipients[2]))
	wantBlocked(t, f.blockFixture, err, a.created.RecipientIDs[2], "report of a blocked chunk")

	// Dismissing closes the other one.
	if err := NewModeration(f.svc).DismissReport(ctx, rb.ID); err != nil {
		t.Fatal(err)
	}
	if err := NewModeration(f.svc).DismissReport(ctx, rb.ID); !errors.Is(err, ErrUnknownReport) {
		t.Fatalf("second dismiss: %v", err)
	}
	if _, err := NewModeration(f.svc).BlockReport(ctx, rb.ID, BlockRequest{Reason: "spam"}); !errors.Is(err, ErrUnknownReport) {
		t.Fatalf("block of a dismissed report: %v", err)
	}
}

func TestReportBudgetSpentOnlyByHolders(t *testing.T) {
	f := newModerationFixture(t, 1)
	ctx := context.Background()
	c := f.upload(t, randomBody(), 1)
	for range 5 {
		f.svc.Report(ctx, c.created.RecipientIDs[0], ReportRequest{Reason: "spam"}, signed(newKey()))
	}
	if err := f.svc.Report(ctx, c.created.RecipientIDs[0], ReportRequest{Reason: "spam"}, signed(c.recipients[0])); err != nil {
		t.Fatalf("a holder's report after a flood of unsigned ones: %v", err)
	}
}

func TestGrantAppeal(t *testing.T) {
	f := newModerationFixture(t, 0)
	ctx := context.Background()
	c := f.upload(t, randomBody(), 1)
	bc, err := NewModeration(f.svc).Block(ctx, BlockRequest{ID: c.created.SenderID, Reason: blocklist.ReasonContent,
		Restrictions: []blocklist.Restriction{blocklist.RestrictNoUploads}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewModeration(f.svc).GrantAppeal(ctx, AppealRequest{Code: []byte("short")}); !errors.Is(err, ErrSyntax) {
		t.Fatalf("appeal with a short code: %v", err)
	}
	unknown := bytes.Repeat([]byte{7}, CaseCodeSize)
	if _, err := NewModeration(f.svc).GrantAppeal(ctx, AppealRequest{Code: unknown}); !errors.Is(err, ErrNotBlocked) {
		t.Fatalf("appeal for an unknown case: %v", err)
	}
	if _, err := NewModeration(f.svc).GrantAppeal(ctx, AppealRequest{Code: unknown, Force: true}); err != nil {
		t.Fatalf("forced appeal: %v", err)
	}
	a, err := NewModeration(f.svc).GrantAppeal(ctx, AppealRequest{Code: bc.Code})
	if err != nil {
		t.Fatal(err)
	}
	if err := blocklist.VerifyUnblock(a.Proof, f.id.Fingerprint(), bc.Code); err != nil {
		t.Fatalf("proof does not verify: %v", err)
	}
	if err := blocklist.VerifyUnblock(a.Proof, f.id.Fingerprint(), unknown); !errors.Is(err, blocklist.ErrWrongCase) {
		t.Fatalf("proof verifies for another case: %v", err)
	}
	if a.Unblocked != nil {
		t.Fatal("unblocked without asking")
	}
	// Still blocked: the proof lifts client restrictions, not the block.
	_, err = f.svc.Status(ctx, c.created.SenderID, signed(c.sender))
	wantBlocked(t, f.blockFixture, err, c.created.SenderID, "status after the appeal")
	a, err = NewModeration(f.svc).GrantAppeal(ctx, AppealRequest{Code: bc.Code, Unblock: true})
	if err != nil || a.Unblocked == nil || len(a.Unblocked.Keys) != 3 {
		t.Fatalf("appeal with unblock: %+v, %v", a, err)
	}
	if _, err := NewModeration(f.svc).GetBlock(ctx, bc.Code); !errors.Is(err, ErrNotBlocked) {
		t.Fatalf("case after the appeal with unblock: %v", err)
	}
	if got := f.metrics.get(EventAppealGranted); got != 3 {
		t.Fatalf("appeals counted: %d, want 3", got)
	}
	n := 0
	for _, e := range f.audit.events {
		if e.Action == "appeal" {
			n++
		}
	}
	if n != 3 {
		t.Fatalf("%d appeal audit events, want 3", n)
	}
	// An appeal that cannot be audited is not granted.
	f.audit.fail = true
	if _, err := NewModeration(f.svc).GrantAppeal(ctx, AppealRequest{Code: unknown, Force: true}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("appeal without an audit log: %v", err)
	}
}

func TestCaseCodesDoNotLookLikeFlags(t *testing.T) {
	for range 2000 {
		s := base64.RawURLEncoding.EncodeToString(newCaseCode())
		if s[0] == '-' || s[0] == '_' {
			t.Fatalf("case code %q starts with %q", s, s[0])
		}
	}
}
