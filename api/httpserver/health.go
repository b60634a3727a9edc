package httpserver

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/identity"
)

// ProtocolVersion is the wire protocol's version.
const ProtocolVersion = 1

func (h *Handler) healthRoutes() chi.Router {
	r := chi.NewRouter()
	r.Get("/v1/ping", h.ping)
	r.Get("/v1/identity", h.identity)
	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "alive"})
	})
	r.Get("/readyz", h.ready)
	return r
}

func (h *Handler) ping(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, api.ServerInfo{Version: ProtocolVersion, ChunkSizes: h.svc.Config().ChunkSizes})
}

// identity answers an identity challenge: it proves that the server behind
// a TLS-terminating proxy holds the key the client pinned.
func (h *Handler) identity(w http.ResponseWriter, r *http.Request) {
	ch, err := enc.DecodeString(r.URL.Query().Get("challenge"))
	if err != nil || len(ch) < 16 || len(ch) > 64 {
		writeJSON(w, http.StatusBadRequest, api.ErrorResponse{Error: api.CodeSyntax})
		return
	}
	id := h.svc.Identity()
	writeJSON(w, http.StatusOK, api.IdentityResponse{
		PublicKey: api.B64(id.Public()),
		Signature: id.Sign(identity.ChallengeMessage(ch)),
	})
}

func (h *Handler) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := h.svc.Ready(ctx); err != nil {
		h.log.Warn("not ready", "err", err)
		w.Header().Set("Retry-After", strconv.Itoa(int(api.RetryAfter/time.Second)))
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
