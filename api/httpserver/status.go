package httpserver

import (
	"net/http"

	"github.com/xftp/xftp/api"
)

func (h *Handler) status(w http.ResponseWriter, r *http.Request) {
	setDeadlines(w, h.opts.RequestTimeout)
	id, a, ok := h.signed(w, r, nil)
	if !ok {
		return
	}
	st, err := h.svc.Status(r.Context(), id, a)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.StatusResponse{Uploaded: st.Uploaded, RecipientIDs: st.RecipientIDs,
		Downloaded: st.Downloaded, Acked: st.Acked, ExpiresAt: st.ExpiresAt.Unix()})
}
