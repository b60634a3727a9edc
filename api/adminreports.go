package api

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/xftp/xftp/blocklist"
	"github.com/xftp/xftp/reports"
	"github.com/xftp/xftp/server"
)

// AdminReport is one abuse report as moderators see it: what was said
// about one chunk, never the chunk's IDs.
type AdminReport struct {
	ID        B64            `json:"id"` // 16 bytes
	Count     int            `json:"count"`
	Reasons   map[string]int `json:"reasons"`
	Contacts  []string       `json:"contacts,omitempty"`
	FirstAt   int64          `json:"first_at"` // unix seconds
	LastAt    int64          `json:"last_at"`
	ExpiresAt int64          `json:"expires_at"` // the chunk's expiry
}

// AdminReportList answers GET /admin/v1/reports?cursor=C&limit=N.
type AdminReportList struct {
	Reports []AdminReport `json:"reports"`
	Next    string        `json:"next,omitempty"`
}

// AdminAppealRequest is the body of POST /admin/v1/appeals.
type AdminAppealRequest struct {
	Case    B64  `json:"case"`              // the 16-byte case (appeal) code
	Unblock bool `json:"unblock,omitempty"` // also lift the block itself
	Force   bool `json:"force,omitempty"`   // issue even if the case is not blocked
}

// AdminAppeal answers POST /admin/v1/appeals.
type AdminAppeal struct {
	// Proof is the unblock proof in text form, "xftp:unblock:<base64url>",
	// to hand to whoever appealed.
	Proof     string     `json:"proof"`
	Case      B64        `json:"case"`
	Server    string     `json:"server"` // fingerprint
	GrantedAt int64      `json:"granted_at"`
	Unblocked *AdminCase `json:"unblocked,omitempty"`
}

func (h *AdminHandler) moderationRoutes(r chi.Router) {
	r.Get("/admin/v1/reports", h.listReports)
	r.Get("/admin/v1/reports/{id}", h.getReport)
	r.Delete("/admin/v1/reports/{id}", h.dismissReport)
	r.Post("/admin/v1/reports/{id}/block", h.blockReport)
	r.Post("/admin/v1/appeals", h.appeal)
}

func adminReport(r *reports.Report) AdminReport {
	out := AdminReport{ID: r.ID, Count: r.Count, Reasons: r.Reasons, Contacts: r.Contacts,
		FirstAt: r.FirstAt.Unix(), LastAt: r.LastAt.Unix(), ExpiresAt: r.ExpiresAt.Unix()}
	if out.Reasons == nil {
		out.Reasons = map[string]int{}
	}
	return out
}

func reportID(r *http.Request) ([]byte, error) {
	id, err := enc.DecodeString(chi.URLParam(r, "id"))
	if err != nil || len(id) != reports.IDSize {
		return nil, fmt.Errorf("%w: want a %d-byte report ID in unpadded base64url", server.ErrSyntax, reports.IDSize)
	}
	return id, nil
}

func (h *AdminHandler) listReports(w http.ResponseWriter, r *http.Request) {
	limit, err := listLimit(r, reports.MaxListLimit)
	if err != nil {
		h.fail(w, err)
		return
	}
	rs, next, err := h.svc.ListReports(r.Context(), r.URL.Query().Get("cursor"), limit)
	if err != nil {
		h.fail(w, err)
		return
	}
	out := AdminReportList{Reports: []AdminReport{}, Next: next}
	for _, rp := range rs {
		out.Reports = append(out.Reports, adminReport(rp))
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *AdminHandler) getReport(w http.ResponseWriter, r *http.Request) {
	id, err := reportID(r)
	if err != nil {
		h.fail(w, err)
		return
	}
	rp, err := h.svc.GetReport(r.Context(), id)
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, adminReport(rp))
}

func (h *AdminHandler) dismissReport(w http.ResponseWriter, r *http.Request) {
	id, err := reportID(r)
	if err != nil {
		h.fail(w, err)
		return
	}
	if err := h.svc.DismissReport(r.Context(), id); err != nil {
		h.fail(w, err)
		return
	}
	h.log.Info("report dismissed", "report", hex.EncodeToString(id))
	writeJSON(w, http.StatusOK, struct{}{})
}

// blockReport takes the body of POST /admin/v1/blocks without "id".
func (h *AdminHandler) blockReport(w http.ResponseWriter, r *http.Request) {
	id, err := reportID(r)
	if err != nil {
		h.fail(w, err)
		return
	}
	var req AdminBlockRequest
	if _, err := readJSON(w, r, &req); err != nil {
		h.fail(w, err)
		return
	}
	if req.TTLSeconds < 0 || req.TTLSeconds > 100*365*24*3600 {
		h.fail(w, fmt.Errorf("%w: ttl_seconds out of range", server.ErrSyntax))
		return
	}
	sr := server.BlockRequest{Reason: blocklist.Reason(req.Reason), Notice: req.Notice,
		TTL: time.Duration(req.TTLSeconds) * time.Second}
	for _, x := range req.Restrictions {
		sr.Restrictions = append(sr.Restrictions, blocklist.Restriction(x))
	}
	c, err := h.svc.BlockReport(r.Context(), id, sr)
	if err != nil {
		h.fail(w, err)
		return
	}
	h.log.Info("chunk blocked from a report", "case", enc.EncodeToString(c.Code), "report", hex.EncodeToString(id), "keys", len(c.Keys))
	writeJSON(w, http.StatusOK, adminCase(c))
}

func (h *AdminHandler) appeal(w http.ResponseWriter, r *http.Request) {
	var req AdminAppealRequest
	if _, err := readJSON(w, r, &req); err != nil {
		h.fail(w, err)
		return
	}
	a, err := h.svc.GrantAppeal(r.Context(), server.AppealRequest{Code: req.Case, Unblock: req.Unblock, Force: req.Force})
	if err != nil {
		h.fail(w, err)
		return
	}
	p := a.Proof.Proof
	out := AdminAppeal{Proof: a.Proof.String(), Case: p.AppealCode, Server: p.Server.String(), GrantedAt: p.GrantedAt.Unix()}
	if a.Unblocked != nil {
		c := adminCase(a.Unblocked)
		out.Unblocked = &c
	}
	h.log.Info("appeal granted", "case", enc.EncodeToString(p.AppealCode), "unblocked", a.Unblocked != nil)
	writeJSON(w, http.StatusOK, out)
}

// ListReports returns one page of open abuse reports, oldest first.
func (c *AdminClient) ListReports(ctx context.Context, cursor string, limit int) (*AdminReportList, error) {
	var out AdminReportList
	return &out, c.do(ctx, http.MethodGet, pagePath("/admin/v1/reports", cursor, limit), nil, &out)
}

// GetReport returns one report.
func (c *AdminClient) GetReport(ctx context.Context, id []byte) (*AdminReport, error) {
	var out AdminReport
	return &out, c.do(ctx, http.MethodGet, "/admin/v1/reports/"+enc.EncodeToString(id), nil, &out)
}

// DismissReport removes a report without blocking.
func (c *AdminClient) DismissReport(ctx context.Context, id []byte) error {
	var out struct{}
	return c.do(ctx, http.MethodDelete, "/admin/v1/reports/"+enc.EncodeToString(id), nil, &out)
}

// BlockReport blocks the chunk of a report (req.ID is ignored).
func (c *AdminClient) BlockReport(ctx context.Context, id []byte, req AdminBlockRequest) (*AdminCase, error) {
	req.ID = nil
	var out AdminCase
	return &out, c.do(ctx, http.MethodPost, "/admin/v1/reports/"+enc.EncodeToString(id)+"/block", req, &out)
}

// Appeal grants an appeal: it returns the unblock proof for a case.
func (c *AdminClient) Appeal(ctx context.Context, req AdminAppealRequest) (*AdminAppeal, error) {
	var out AdminAppeal
	return &out, c.do(ctx, http.MethodPost, "/admin/v1/appeals", req, &out)
}
