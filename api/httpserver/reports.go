package httpserver

import (
	"net/http"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/server"
)

// reportRetryAfter is what a refused report is told to wait.
const reportRetryAfter = "60"

func (h *Handler) report(w http.ResponseWriter, r *http.Request) error {
	setDeadlines(w, h.opts.RequestTimeout)
	var req api.ReportRequest
	id, a, err := h.signed(w, r, &req)
	if err != nil {
		return err
	}
	if err := h.svc.Report(r.Context(), id, server.ReportRequest{Reason: req.Reason, Contact: req.Contact}, a); err != nil {
		if status, _ := statusOf(err); status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", reportRetryAfter)
		}
		return err
	}
	writeJSON(w, http.StatusOK, struct{}{})
	return nil
}
