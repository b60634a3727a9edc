package httpserver

import (
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/blocklist"
	"github.com/xftp/xftp/reports"
	"github.com/xftp/xftp/server"
)

func (h *AdminHandler) moderationRoutes(r chi.Router) {
	r.Get("/admin/v1/reports", h.serve(h.listReports))
	r.Get("/admin/v1/reports/{id}", h.serve(h.getReport))
	r.Delete("/admin/v1/reports/{id}", h.serve(h.dismissReport))
	r.Post("/admin/v1/reports/{id}/block", h.serve(h.blockReport))
	r.Post("/admin/v1/appeals", h.serve(h.appeal))
}

func adminReport(r *reports.Report) api.AdminReport {
	out := api.AdminReport{ID: r.ID, Count: r.Count, Reasons: r.Reasons, Contacts: r.Contacts,
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

func (h *AdminHandler) listReports(w http.ResponseWriter, r *http.Request) error {
	limit, err := listLimit(r, reports.MaxListLimit)
	if err != nil {
		return err
	}
	rs, next, err := h.mod.ListReports(r.Context(), r.URL.Query().Get("cursor"), limit)
	if err != nil {
		return err
	}
	out := api.AdminReportList{Reports: []api.AdminReport{}, Next: next}
	for _, rp := range rs {
		out.Reports = append(out.Reports, adminReport(rp))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *AdminHandler) getReport(w http.ResponseWriter, r *http.Request) error {
	id, err := reportID(r)
	if err != nil {
		return err
	}
	rp, err := h.mod.GetReport(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, adminReport(rp))
	return nil
}

func (h *AdminHandler) dismissReport(w http.ResponseWriter, r *http.Request) error {
	id, err := reportID(r)
	if err != nil {
		return err
	}
	if err := h.mod.DismissReport(r.Context(), id); err != nil {
		return err
	}
	h.log.Info("report dismissed", "report", hex.EncodeToString(id))
	writeJSON(w, http.StatusOK, struct{}{})
	return nil
}

// blockReport takes the body of POST /admin/v1/blocks without "id".
func (h *AdminHandler) blockReport(w http.ResponseWriter, r *http.Request) error {
	id, err := reportID(r)
	if err != nil {
		return err
	}
	var req api.AdminBlockRequest
	if _, err := readJSON(w, r, &req); err != nil {
		return err
	}
	if req.TTLSeconds < 0 || req.TTLSeconds > 100*365*24*3600 {
		return fmt.Errorf("%w: ttl_seconds out of range", server.ErrSyntax)
	}
	sr := server.BlockRequest{Reason: blocklist.Reason(req.Reason), Notice: req.Notice,
		TTL: time.Duration(req.TTLSeconds) * time.Second}
	for _, x := range req.Restrictions {
		sr.Restrictions = append(sr.Restrictions, blocklist.Restriction(x))
	}
	c, err := h.mod.BlockReport(r.Context(), id, sr)
	if err != nil {
		return err
	}
	h.log.Info("chunk blocked from a report", "case", enc.EncodeToString(c.Code), "report", hex.EncodeToString(id), "keys", len(c.Keys))
	writeJSON(w, http.StatusOK, adminCase(c))
	return nil
}

func (h *AdminHandler) appeal(w http.ResponseWriter, r *http.Request) error {
	var req api.AdminAppealRequest
	if _, err := readJSON(w, r, &req); err != nil {
		return err
	}
	a, err := h.mod.GrantAppeal(r.Context(), server.AppealRequest{Code: req.Case, Unblock: req.Unblock, Force: req.Force})
	if err != nil {
		return err
	}
	p := a.Proof.Proof
	out := api.AdminAppeal{Proof: a.Proof.String(), Case: p.AppealCode, Server: p.Server.String(), GrantedAt: p.GrantedAt.Unix()}
	if a.Unblocked != nil {
		c := adminCase(a.Unblocked)
		out.Unblocked = &c
	}
	h.log.Info("appeal granted", "case", enc.EncodeToString(p.AppealCode), "unblocked", a.Unblocked != nil)
	writeJSON(w, http.StatusOK, out)
	return nil
}
