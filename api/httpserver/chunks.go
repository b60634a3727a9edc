package httpserver

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/server"
)

func (h *Handler) chunkRoutes() chi.Router {
	r := chi.NewRouter()
	r.Post("/", h.limit(h.createLimit, h.serve(h.create)))
	r.Put("/", h.limit(h.createLimit, h.serve(h.createUploaded)))
	r.Put("/{id}", h.limit(h.requestLimit, h.serve(h.upload)))
	r.Delete("/{id}", h.limit(h.requestLimit, h.serve(h.delete)))
	r.Post("/{id}/recipients", h.limit(h.requestLimit, h.serve(h.addRecipients)))
	r.Post("/{id}/download", h.limit(h.downloadLimit, h.serve(h.download)))
	r.Post("/{id}/ack", h.limit(h.requestLimit, h.serve(h.ack)))
	r.Post("/{id}/status", h.limit(h.requestLimit, h.serve(h.status))) // status.go
	r.Post("/{id}/report", h.limit(h.reportLimit, h.serve(h.report)))  // reports.go
	return r
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request) error {
	setDeadlines(w, h.opts.RequestTimeout)
	var req api.CreateRequest
	body, err := readJSON(w, r, &req)
	if err != nil {
		return err
	}
	sreq, a, err := h.createRequest(r, req, body)
	if err != nil {
		return err
	}
	c, err := h.svc.Create(r.Context(), sreq, a)
	if err != nil {
		return err
	}
	writeCreated(w, c)
	return nil
}

// createUploaded is PUT /v1/chunks: the body is the create request of POST
// /v1/chunks, framed (readCreatePrefix) and signed like it, followed by the
// chunk's bytes.
func (h *Handler) createUploaded(w http.ResponseWriter, r *http.Request) error {
	setDeadlines(w, h.opts.UploadTimeout)
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.UploadTimeout)
	defer cancel()
	if r.ContentLength < 0 || r.ContentLength > api.CreatePrefixMax+h.svc.Config().MaxChunkSize() {
		return server.ErrSize
	}
	js, err := readCreatePrefix(r.Body)
	if err != nil {
		return err
	}
	var req api.CreateRequest
	if err := json.Unmarshal(js, &req); err != nil {
		return fmt.Errorf("%w: %v", server.ErrSyntax, err)
	}
	sreq, a, err := h.createRequest(r, req, js)
	if err != nil {
		return err
	}
	c, err := h.svc.CreateUploaded(ctx, sreq, a, r.Body, r.ContentLength-createPrefixSize(js))
	if err != nil {
		return err
	}
	writeCreated(w, c)
	return nil
}

func createPrefixSize(js []byte) int64 { return 4 + int64(len(js)) }

// readCreatePrefix reads the create request that starts the body of PUT
// /v1/chunks and returns its JSON, which the request's signature covers.
func readCreatePrefix(r io.Reader) ([]byte, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, fmt.Errorf("%w: reading the create request", server.ErrSyntax)
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > api.MaxJSONBody {
		return nil, &http.MaxBytesError{Limit: api.MaxJSONBody}
	}
	js := make([]byte, size)
	if _, err := io.ReadFull(r, js); err != nil {
		return nil, fmt.Errorf("%w: reading the create request", server.ErrSyntax)
	}
	return js, nil
}

// createRequest turns a decoded create request and the bytes its signature
// covers into what the service checks.
func (h *Handler) createRequest(r *http.Request, req api.CreateRequest, signed []byte) (server.CreateRequest, server.Auth, error) {
	a, err := h.auth(r, api.BodyHash(signed))
	if err != nil {
		return server.CreateRequest{}, a, err
	}
	sreq := server.CreateRequest{
		SenderKey: ed25519.PublicKey(req.SenderKey), Size: req.Size, RecipientKeys: keys(req.RecipientKeys), Password: req.Password,
	}
	if len(req.Digest) != len(sreq.Digest) {
		return sreq, a, server.ErrSyntax
	}
	copy(sreq.Digest[:], req.Digest)
	return sreq, a, nil
}

func writeCreated(w http.ResponseWriter, c *server.Created) {
	writeJSON(w, http.StatusOK, api.CreateResponse{SenderID: c.SenderID, RecipientIDs: b64s(c.RecipientIDs), ExpiresAt: c.ExpiresAt.Unix()})
}

func (h *Handler) upload(w http.ResponseWriter, r *http.Request) error {
	setDeadlines(w, h.opts.UploadTimeout)
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.UploadTimeout)
	defer cancel()
	id, err := parseID(r)
	if err != nil {
		return err
	}
	a, err := h.auth(r, api.UnsignedBody)
	if err != nil {
		return err
	}
	if r.ContentLength < 0 || r.ContentLength > h.svc.Config().MaxChunkSize() {
		return server.ErrSize
	}
	if err := h.svc.Upload(ctx, id, a, r.Body, r.ContentLength); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct{}{})
	return nil
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request) error {
	setDeadlines(w, h.opts.RequestTimeout)
	id, a, err := h.signed(w, r, nil)
	if err != nil {
		return err
	}
	if err := h.svc.Delete(r.Context(), id, a); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct{}{})
	return nil
}

func (h *Handler) addRecipients(w http.ResponseWriter, r *http.Request) error {
	setDeadlines(w, h.opts.RequestTimeout)
	var req api.RecipientsRequest
	id, a, err := h.signed(w, r, &req)
	if err != nil {
		return err
	}
	ids, err := h.svc.AddRecipients(r.Context(), id, keys(req.RecipientKeys), a)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.RecipientsResponse{RecipientIDs: b64s(ids)})
	return nil
}

// downloadWriteSize is the size of the download handler's writes.
const downloadWriteSize = 128 << 10

func (h *Handler) download(w http.ResponseWriter, r *http.Request) error {
	setDeadlines(w, h.opts.UploadTimeout)
	var req api.DownloadRequest
	id, a, err := h.signed(w, r, &req)
	if err != nil {
		return err
	}
	d, err := h.svc.Download(r.Context(), id, req.Key, a)
	if err != nil {
		return err
	}
	defer d.Body.Close()
	hd := w.Header()
	hd.Set("Content-Type", "application/octet-stream")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Length", itoa(d.Size))
	hd.Set(api.HeaderServerKey, enc.EncodeToString(d.ServerKey))
	hd.Set(api.HeaderKeySignature, enc.EncodeToString(d.KeySignature))
	w.WriteHeader(http.StatusOK)
	bp := h.bufs.Get().(*[]byte)
	defer h.bufs.Put(bp)
	// Two sealed 64 KiB segments per HTTP/2 write: the sealing reader
	// fills the buffer in place, and writes of 128 KiB measured better
	// than one segment (more handler<->connection round trips) and than
	// 256 KiB (the client and server overlap less on two cores).
	if _, err := copyBuffer(w, d.Body, (*bp)[:min(len(*bp), downloadWriteSize)]); err != nil {
		// The status is sent; abort the stream so the client cannot take
		// a cut-off body for a whole one.
		if r.Context().Err() == nil {
			h.log.Warn("download aborted", "request_id", requestID(r.Context()), "err", err)
		}
		panic(http.ErrAbortHandler)
	}
	return nil
}

func (h *Handler) ack(w http.ResponseWriter, r *http.Request) error {
	setDeadlines(w, h.opts.RequestTimeout)
	id, a, err := h.signed(w, r, nil)
	if err != nil {
		return err
	}
	if err := h.svc.Ack(r.Context(), id, a); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct{}{})
	return nil
}
