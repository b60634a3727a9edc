package httpserver

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/blocklist"
	"github.com/xftp/xftp/chunk/simplex"
	"github.com/xftp/xftp/server"
)

// Takedowns of SimpleX files (docs/XFTP.md): complaints name them by a
// SimpleX file description, a simplex:/file link or one XFTP chunk ID.

// AdminXFTPBlockRequest is the body of POST /admin/v1/xftp/blocks.
type AdminXFTPBlockRequest struct {
	// Ref is an XFTP sender or recipient ID (base64url, padded or not, as
	// in SimpleX descriptions), a SimpleX file description (YAML) or a
	// link to one (simplex:/file#/?desc=… or a web page link).
	Ref        string `json:"ref"`
	Reason     string `json:"reason"`
	Notice     string `json:"notice,omitempty"`
	TTLSeconds int64  `json:"ttl_seconds,omitempty"`
}

// AdminXFTPBlockResult answers it: one case per chunk blocked here.
type AdminXFTPBlockResult struct {
	Cases []api.AdminCase `json:"cases"`
	// Already counts chunks that were blocked before; Unknown, IDs this
	// relay does not know (expired, deleted); Elsewhere, replicas on other
	// servers, left alone.
	Already   int `json:"already"`
	Unknown   int `json:"unknown"`
	Elsewhere int `json:"elsewhere"`
}

// EnableXFTP lets the admin API resolve SimpleX descriptions for the relay
// whose XFTP key hash is keyHash. Call it before serving.
func (h *AdminHandler) EnableXFTP(keyHash [32]byte) { h.xftpKeyHash = &keyHash }

// XFTPRefIDs resolves ref (see AdminXFTPBlockRequest) into the chunk IDs
// it names on the relay with keyHash, and the count of replicas elsewhere.
func XFTPRefIDs(ref string, keyHash [32]byte) (ids [][]byte, elsewhere int, err error) {
	ref = strings.TrimSpace(ref)
	var d *simplex.Description
	switch {
	case ref == "":
		return nil, 0, fmt.Errorf("%w: ref is empty", server.ErrSyntax)
	case strings.Contains(ref, "#"):
		if d, err = simplex.ParseLink(ref); err != nil {
			return nil, 0, fmt.Errorf("%w: %v", server.ErrSyntax, err)
		}
	case strings.Contains(ref, "\n") || strings.Contains(ref, ": "):
		if d, err = simplex.Parse([]byte(ref)); err != nil {
			return nil, 0, fmt.Errorf("%w: %v", server.ErrSyntax, err)
		}
	default:
		id, err := base64.URLEncoding.DecodeString(ref)
		if err != nil {
			id, err = base64.RawURLEncoding.DecodeString(ref)
		}
		if err != nil || len(id) == 0 || len(id) > blocklist.MaxKeySize {
			return nil, 0, fmt.Errorf("%w: ref is neither a description, a link nor a base64url chunk ID", server.ErrSyntax)
		}
		return [][]byte{id}, 0, nil
	}
	for _, c := range d.Chunks {
		for _, r := range c.Replicas {
			if r.Server.KeyHash == keyHash {
				ids = append(ids, bytes.Clone(r.ID))
			} else {
				elsewhere++
			}
		}
	}
	return ids, elsewhere, nil
}

func (h *AdminHandler) xftpBlock(w http.ResponseWriter, r *http.Request) error {
	var req AdminXFTPBlockRequest
	if _, err := readJSON(w, r, &req); err != nil {
		return err
	}
	if h.xftpKeyHash == nil {
		return fmt.Errorf("%w: XFTP is off on this relay", server.ErrSyntax)
	}
	if req.TTLSeconds < 0 || req.TTLSeconds > 100*365*24*3600 {
		return fmt.Errorf("%w: ttl_seconds out of range", server.ErrSyntax)
	}
	ids, elsewhere, err := XFTPRefIDs(req.Ref, *h.xftpKeyHash)
	if err != nil {
		return err
	}
	out := AdminXFTPBlockResult{Cases: []api.AdminCase{}, Elsewhere: elsewhere}
	for _, id := range ids {
		c, err := h.mod.Block(r.Context(), server.BlockRequest{
			ID: id, Reason: blocklist.Reason(req.Reason), Notice: req.Notice,
			TTL: time.Duration(req.TTLSeconds) * time.Second,
		})
		switch {
		case errors.Is(err, server.ErrAlreadyBlocked):
			out.Already++
		case errors.Is(err, server.ErrUnknownChunk):
			out.Unknown++
		case err != nil:
			return err
		default:
			h.log.Info("XFTP chunk blocked", "case", enc.EncodeToString(c.Code), "reason", string(c.Record.Reason), "keys", len(c.Keys), "body", c.Body)
			out.Cases = append(out.Cases, adminCase(c))
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
