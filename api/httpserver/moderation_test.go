package httpserver_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/api/httpclient"
	"github.com/xftp/xftp/api/httpserver"
	"github.com/xftp/xftp/blocklist"
	"github.com/xftp/xftp/internal/testrelay"
	"github.com/xftp/xftp/reports"
)

// moderationServer is a relay with a blocklist and a report store, its
// admin API, and a per-source report limit of reportsPerMinute.
type moderationServer struct {
	*testrelay.Relay
	admin *httpclient.AdminClient
}

func newModerationServer(t *testing.T, reportsPerMinute int) *moderationServer {
	t.Helper()
	r := testrelay.StartWith(t, nil, testrelay.Options{Blocklist: true, Reports: true, AdminToken: testToken,
		Handler: httpserver.HandlerOptions{Limits: httpserver.Limits{ReportsPerMinute: reportsPerMinute}}})
	return &moderationServer{Relay: r, admin: httpclient.NewAdminClient(r.AdminURL, testToken)}
}

func TestStatusReportAppealOverHTTP(t *testing.T) {
	ms := newModerationServer(t, 3)
	c := httpclient.NewClient(ms.Address, httpclient.ClientOptions{})
	t.Cleanup(c.Close)
	sender := newKey()
	rks := []ed25519.PrivateKey{newKey(), newKey(), newKey(), newKey()} // 2 real + 2 padding
	body, digest := randomChunk(64 << 10)
	created, err := c.Create(bg, sender, int64(len(body)), digest, pubs(rks...))
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.Status(bg, created.SenderID, sender)
	if err != nil || st.Uploaded || st.RecipientIDs != 4 {
		t.Fatalf("status before upload: %+v, %v", st, err)
	}
	if err := c.Upload(bg, created.SenderID, sender, bytes.NewReader(body), int64(len(body))); err != nil {
		t.Fatal(err)
	}
	r, err := c.Download(bg, created.RecipientIDs[0], rks[0], int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, body) {
		t.Fatalf("download: %v", err)
	}
	r.Close()
	if err := c.Ack(bg, created.RecipientIDs[0], rks[0]); err != nil {
		t.Fatal(err)
	}
	st, err = c.Status(bg, created.SenderID, sender)
	if err != nil || !st.Uploaded || st.RecipientIDs != 4 || st.Downloaded != 1 || st.Acked != 1 || st.ExpiresAt.Before(time.Now()) {
		t.Fatalf("status after one download and ack: %+v, %v", st, err)
	}
	// A recipient cannot ask for status.
	_, err = c.Status(bg, created.RecipientIDs[1], rks[1])
	wantCode(t, err, api.CodeAuth)

	// Reports: merged per chunk, limited per source (3 a minute here).
	for i := 1; i < 4; i++ {
		if err := c.Report(bg, created.RecipientIDs[i], rks[i], "content", "mod@example.org"); err != nil {
			t.Fatalf("report %d: %v", i, err)
		}
	}
	err = c.Report(bg, created.RecipientIDs[1], rks[1], "content", "")
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != 429 || ae.Code != api.CodeRate || ae.RetryAfter <= 0 {
		t.Fatalf("a report over the per-source limit: %v", err)
	}
	list, err := ms.admin.ListReports(bg, "", 0)
	if err != nil || len(list.Reports) != 1 {
		t.Fatalf("admin reports: %+v, %v", list, err)
	}
	rep := list.Reports[0]
	if rep.Count != 3 || rep.Reasons["content"] != 3 || len(rep.Contacts) != 1 || len(rep.ID) != reports.IDSize {
		t.Fatalf("report: %+v", rep)
	}
	if got, err := ms.admin.GetReport(bg, rep.ID); err != nil || got.Count != 3 {
		t.Fatalf("get report: %+v, %v", got, err)
	}
	_, err = ms.admin.BlockReport(bg, []byte("short"), api.AdminBlockRequest{Reason: "content"})
	var ape *httpclient.AdminAPIError
	if !errors.As(err, &ape) || ape.Status != 400 {
		t.Fatalf("block of a malformed report ID: %v", err)
	}
	cs, err := ms.admin.BlockReport(bg, rep.ID, api.AdminBlockRequest{Reason: "content", Restrictions: []string{"no_uploads"}})
	if err != nil || len(cs.Case) != blocklist.AppealCodeSize {
		t.Fatalf("block from report: %+v, %v", cs, err)
	}
	_, err = ms.admin.GetReport(bg, rep.ID)
	if !errors.As(err, &ape) || ape.Status != 404 {
		t.Fatalf("report after its block: %v", err)
	}
	// The sender's status now answers the signed record for its ID.
	_, err = c.Status(bg, created.SenderID, sender)
	rec := wantVerifiedBlock(t, err, ms.Identity.Fingerprint(), created.SenderID, "status of the blocked chunk")
	if !bytes.Equal(rec.Record.AppealCode, cs.Case) {
		t.Fatal("record does not carry the case code")
	}

	// Appeal: a proof for that case, verifiable by the client.
	ap, err := ms.admin.Appeal(bg, api.AdminAppealRequest{Case: cs.Case})
	if err != nil {
		t.Fatal(err)
	}
	p, err := blocklist.ParseUnblockText(ap.Proof)
	if err != nil {
		t.Fatal(err)
	}
	if err := blocklist.VerifyUnblock(p, ms.Identity.Fingerprint(), rec.Record.AppealCode); err != nil {
		t.Fatalf("proof from the admin API: %v", err)
	}
	if ap.Server != ms.Identity.Fingerprint().String() || ap.Unblocked != nil {
		t.Fatalf("appeal answer: %+v", ap)
	}
	_, err = ms.admin.Appeal(bg, api.AdminAppealRequest{Case: bytes.Repeat([]byte{1}, blocklist.AppealCodeSize)})
	if !errors.As(err, &ape) || ape.Code != api.CodeNotBlocked {
		t.Fatalf("appeal for an unknown case: %v", err)
	}
	_, err = ms.admin.Appeal(bg, api.AdminAppealRequest{Case: []byte{1, 2}})
	if !errors.As(err, &ape) || ape.Code != api.CodeSyntax {
		t.Fatalf("appeal with a short code: %v", err)
	}
	ap, err = ms.admin.Appeal(bg, api.AdminAppealRequest{Case: cs.Case, Unblock: true})
	if err != nil || ap.Unblocked == nil {
		t.Fatalf("appeal with unblock: %+v, %v", ap, err)
	}
	_, err = c.Status(bg, created.SenderID, sender)
	wantCode(t, err, api.CodeAuth) // unblocked, but the chunk stays deleted
}
