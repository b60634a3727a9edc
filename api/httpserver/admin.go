package httpserver

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/blocklist"
	"github.com/xftp/xftp/server"
)

// The operator's admin API (docs/TAKEDOWNS.md). It is served on its own
// listener, loopback by default, in plain HTTP, and every request carries
// "Authorization: Bearer <token>".

// AdminHandler is the HTTP binding of the service's takedown operations.
type AdminHandler struct {
	mod   *server.Moderation
	token [sha256.Size]byte // SHA-256 of the bearer token
	// compare is subtle.ConstantTimeCompare; a field so a test can check
	// that every request goes through it.
	compare func(x, y []byte) int
	log     *slog.Logger
	// xftpKeyHash is the relay's XFTP key hash, for SimpleX descriptions
	// (adminxftp.go); nil when XFTP is off.
	xftpKeyHash *[32]byte
}

// NewAdminHandler binds the service's moderation to HTTP, accepting
// requests that carry token.
func NewAdminHandler(mod *server.Moderation, token string, log *slog.Logger) (*AdminHandler, error) {
	if len(token) < 16 {
		return nil, errors.New("admin token: too short (at least 16 characters)")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &AdminHandler{mod: mod, token: sha256.Sum256([]byte(token)), compare: subtle.ConstantTimeCompare, log: log}, nil
}

// authorized reports whether the request carries the token. Both sides
// are hashed first, so the comparison is over equal lengths and takes the
// same time whatever the presented token's length or content.
func (h *AdminHandler) authorized(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	sum := sha256.Sum256([]byte(got))
	match := h.compare(sum[:], h.token[:]) == 1
	return ok && match
}

func (h *AdminHandler) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="xftpd admin"`)
			writeJSON(w, http.StatusUnauthorized, api.AdminError{Error: api.CodeAuth})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Routes returns the admin router.
func (h *AdminHandler) Routes() chi.Router {
	r := chi.NewRouter()
	r.Use(h.authenticate)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, api.AdminError{Error: api.CodeNotFound})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, api.AdminError{Error: api.CodeSyntax})
	})
	r.Get("/admin/v1/identity", h.identity)
	r.Post("/admin/v1/blocks", h.serve(h.block))
	r.Get("/admin/v1/blocks", h.serve(h.list))
	r.Get("/admin/v1/blocks/{ref}", h.serve(h.get))
	r.Delete("/admin/v1/blocks/{ref}", h.serve(h.unblock))
	r.Post("/admin/v1/xftp/blocks", h.serve(h.xftpBlock)) // adminxftp.go
	h.moderationRoutes(r)                                 // adminreports.go: reports and appeals
	return r
}

// serve adapts f: the one place where a failed admin request is
// answered.
func (h *AdminHandler) serve(f handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := f(w, r); err != nil {
			h.fail(w, err)
		}
	}
}

func (h *AdminHandler) fail(w http.ResponseWriter, err error) {
	status, code := statusOf(err)
	if status >= 500 {
		h.log.Error("admin request failed", "code", code, "err", err)
	}
	e := api.AdminError{Error: code}
	if errors.Is(err, server.ErrSyntax) {
		e.Detail = err.Error()
	}
	writeJSON(w, status, e)
}

func (h *AdminHandler) identity(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, api.AdminIdentity{Fingerprint: h.mod.Identity().Fingerprint().String()})
}

func (h *AdminHandler) block(w http.ResponseWriter, r *http.Request) error {
	var req api.AdminBlockRequest
	if _, err := readJSON(w, r, &req); err != nil {
		return err
	}
	if req.TTLSeconds < 0 || req.TTLSeconds > 100*365*24*3600 {
		return fmt.Errorf("%w: ttl_seconds out of range", server.ErrSyntax)
	}
	sr := server.BlockRequest{
		ID: req.ID, Reason: blocklist.Reason(req.Reason), Notice: req.Notice,
		TTL: time.Duration(req.TTLSeconds) * time.Second,
	}
	for _, x := range req.Restrictions {
		sr.Restrictions = append(sr.Restrictions, blocklist.Restriction(x))
	}
	c, err := h.mod.Block(r.Context(), sr)
	if err != nil {
		return err
	}
	h.log.Info("chunk blocked", "case", enc.EncodeToString(c.Code), "reason", string(c.Record.Reason), "keys", len(c.Keys), "body", c.Body)
	writeJSON(w, http.StatusOK, adminCase(c))
	return nil
}

func (h *AdminHandler) ref(r *http.Request) ([]byte, error) {
	ref, err := enc.DecodeString(chi.URLParam(r, "ref"))
	if err != nil || len(ref) == 0 || len(ref) > blocklist.MaxKeySize {
		return nil, fmt.Errorf("%w: want a chunk ID or case code in unpadded base64url", server.ErrSyntax)
	}
	return ref, nil
}

func (h *AdminHandler) get(w http.ResponseWriter, r *http.Request) error {
	ref, err := h.ref(r)
	if err != nil {
		return err
	}
	c, err := h.mod.GetBlock(r.Context(), ref)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, adminCase(c))
	return nil
}

func (h *AdminHandler) unblock(w http.ResponseWriter, r *http.Request) error {
	ref, err := h.ref(r)
	if err != nil {
		return err
	}
	c, err := h.mod.Unblock(r.Context(), ref)
	if err != nil {
		return err
	}
	h.log.Info("chunk unblocked", "case", enc.EncodeToString(c.Code), "keys", len(c.Keys))
	writeJSON(w, http.StatusOK, adminCase(c))
	return nil
}

func (h *AdminHandler) list(w http.ResponseWriter, r *http.Request) error {
	limit, err := listLimit(r, blocklist.MaxListLimit)
	if err != nil {
		return err
	}
	es, next, err := h.mod.ListBlocks(r.Context(), r.URL.Query().Get("cursor"), limit)
	if err != nil {
		return err
	}
	out := api.AdminList{Entries: []api.AdminEntry{}, Next: next}
	for _, e := range es {
		rec := e.Record.Record
		ae := adminEntry(e.Key)
		ae.Case, ae.Reason, ae.BlockedAt, ae.TTLSeconds = rec.AppealCode, string(rec.Reason), rec.BlockedAt.Unix(), int64(rec.TTL/time.Second)
		ae.Restrictions = restrictionNames(rec.Restrictions)
		out.Entries = append(out.Entries, ae)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func adminEntry(k blocklist.Key) api.AdminEntry {
	h := sha256.Sum256(k.Value)
	return api.AdminEntry{Kind: k.Kind.String(), KeyHash: h[:]}
}

func restrictionNames(xs []blocklist.Restriction) []string {
	out := []string{}
	for _, x := range xs {
		out = append(out, string(x))
	}
	return out
}

func adminCase(c *server.BlockCase) api.AdminCase {
	out := api.AdminCase{
		Case: c.Code, Reason: string(c.Record.Reason), Notice: c.Record.Notice,
		BlockedAt: c.Record.BlockedAt.Unix(), TTLSeconds: int64(c.Record.TTL / time.Second),
		Restrictions: restrictionNames(c.Record.Restrictions), Body: c.Body, Keys: []api.AdminEntry{},
	}
	for _, k := range c.Keys {
		out.Keys = append(out.Keys, adminEntry(k))
	}
	return out
}

// listLimit reads a list request's optional limit (1..max; 0 if absent,
// meaning the store's default).
func listLimit(r *http.Request, max int) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, fmt.Errorf("%w: limit must be 1..%d", server.ErrSyntax, max)
	}
	return n, nil
}
