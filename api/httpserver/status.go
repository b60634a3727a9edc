package httpserver

import (
	"net/http"

	"github.com/xftp/xftp/api"
)

func (h *Handler) status(w http.ResponseWriter, r *http.Request) error {
	setDeadlines(w, h.opts.RequestTimeout)
	id, a, err := h.signed(w, r, nil)
	if err != nil {
		return err
	}
	st, err := h.svc.Status(r.Context(), id, a)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.StatusResponse{Uploaded: st.Uploaded, RecipientIDs: st.RecipientIDs,
		Downloaded: st.Downloaded, Acked: st.Acked, ExpiresAt: st.ExpiresAt.Unix()})
	return nil
}
