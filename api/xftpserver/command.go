package xftpserver

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/xftp/xftp/api/xftp"
	"github.com/xftp/xftp/blocklist"
	"github.com/xftp/xftp/server"
)

// reply is a command's answer: a response block, and for FGET the sealed
// body that follows it.
type reply struct {
	resp *xftp.Response
	body io.Reader
	size int64
}

// parseBlock parses a command block into a transmission that shares no
// memory with head: ErrBlock if it is not a well-formed block.
func parseBlock(head []byte) (*xftp.Transmission, error) {
	if len(head) != xftp.BlockSize {
		return nil, xftp.ErrBlock
	}
	t, err := xftp.ParseTransmission(head)
	if err != nil {
		return nil, err
	}
	return t.Clone(), nil
}

// command runs one command, parsed by parseBlock (t, or the error perr),
// and writes its answer. It returns the command's tag and the result for
// metrics.
func (b *Binding) command(w http.ResponseWriter, r *http.Request, sessionID []byte, version uint16, t *xftp.Transmission, perr error) (string, string) {
	write := func(corrID, entityID []byte, rp reply) {
		blk := b.blocks.Get().(*[]byte)
		block := *blk
		if err := xftp.EncodeResponseInto(block, sessionID, corrID, entityID, rp.resp, version); err != nil {
			b.log.Error("encoding an XFTP response failed", "err", err)
			panic(http.ErrAbortHandler)
		}
		if rp.body != nil {
			w.Header().Set("Content-Length", strconv.FormatInt(int64(len(block))+rp.size, 10))
		}
		w.WriteHeader(http.StatusOK)
		_, err := w.Write(block)
		if err != nil {
			// The frame may not have been written yet: the buffer is
			// left to the garbage collector, never reused.
			return
		}
		// A Write that succeeded has copied the block (into the
		// connection's framer, or the response's own buffer).
		b.blocks.Put(blk)
		if rp.body == nil {
			return
		}
		bp := b.bufs.Get().(*[]byte)
		defer b.bufs.Put(bp)
		if _, err := io.CopyBuffer(w, rp.body, *bp); err != nil {
			// A corrupt body or a failed store: the client must not
			// get a tag that completes the answer.
			panic(http.ErrAbortHandler)
		}
	}
	if perr != nil {
		write(nil, nil, reply{resp: xftp.ErrResponse(xftp.ErrBlock)})
		return "block", xftp.CodeBlock
	}
	if string(t.SessionID) != string(sessionID) {
		write(t.CorrID, nil, reply{resp: xftp.ErrResponse(xftp.ErrSession)})
		return "session", xftp.CodeSession
	}
	c, cerr := xftp.ParseCommand(t.Command)
	if cerr == nil {
		cerr = credentials(c, t)
	}
	if cerr != nil {
		write(t.CorrID, t.EntityID, reply{resp: xftp.ErrResponse(cerr)})
		return "command", cerr.Code
	}
	rp := b.run(r, w, c, t)
	write(t.CorrID, t.EntityID, rp)
	result := rp.resp.Tag
	if rp.resp.Err != nil {
		result = rp.resp.Err.Code
	}
	return c.Tag, result
}

// credentials checks that the command carries the signature and entity
// ID it needs, and no others (simplexmq's checkCredentials).
func credentials(c *xftp.Command, t *xftp.Transmission) *xftp.Error {
	signed, entity := len(t.Signature) > 0, len(t.EntityID) > 0
	switch {
	case c.Tag == xftp.FNEW && !signed:
		return xftp.CmdError(xftp.CmdNoAuth)
	case c.Tag == xftp.FNEW && entity:
		return xftp.CmdError(xftp.CmdHasAuth)
	case c.Tag == xftp.FNEW:
	case c.Tag == xftp.PING && (signed || entity):
		return xftp.CmdError(xftp.CmdHasAuth)
	case c.Tag == xftp.PING:
	case !signed || !entity:
		return xftp.CmdError(xftp.CmdNoAuth)
	}
	return nil
}

// run executes a well-formed command against the service.
func (b *Binding) run(r *http.Request, w http.ResponseWriter, c *xftp.Command, t *xftp.Transmission) reply {
	ctx := r.Context()
	auth := server.Auth{Message: t.Authorized, Signature: t.Signature, SessionBound: true}
	fail := func(err error) reply { return reply{resp: xftp.ErrResponse(b.errorFor(ctx, err))} }
	switch c.Tag {
	case xftp.PING:
		return reply{resp: &xftp.Response{Tag: xftp.PONG}}
	case xftp.FNEW:
		if len(c.Digest) != 32 {
			return reply{resp: xftp.ErrResponse(xftp.CmdError(xftp.CmdSyntax))}
		}
		req := server.CreateRequest{SenderKey: c.SenderKey, Size: int64(c.Size), RecipientKeys: c.RecipientKeys, Password: string(c.BasicAuth)}
		copy(req.Digest[:], c.Digest)
		created, err := b.svc.Create(ctx, req, auth)
		if err != nil {
			return fail(err)
		}
		return reply{resp: &xftp.Response{Tag: xftp.SIDS, SenderID: created.SenderID, RecipientIDs: created.RecipientIDs}}
	case xftp.FADD:
		ids, err := b.svc.AddRecipients(ctx, t.EntityID, c.RecipientKeys, auth)
		if err != nil {
			return fail(err)
		}
		return reply{resp: &xftp.Response{Tag: xftp.RIDS, RecipientIDs: ids}}
	case xftp.FPUT:
		return b.put(r, w, t.EntityID, auth)
	case xftp.FDEL:
		if err := b.svc.Delete(ctx, t.EntityID, auth); err != nil {
			return fail(err)
		}
	case xftp.FACK:
		if err := b.svc.Ack(ctx, t.EntityID, auth); err != nil {
			return fail(err)
		}
	case xftp.FGET:
		body, err := b.svc.Open(ctx, t.EntityID, auth)
		if err != nil {
			return fail(err)
		}
		context.AfterFunc(ctx, func() { body.Close() })
		dh, nonce, sealed, err := xftp.SealBody(c.DHKey, body, body.Size)
		if err != nil {
			body.Close()
			return reply{resp: xftp.ErrResponse(xftp.CmdError(xftp.CmdSyntax))}
		}
		return reply{resp: &xftp.Response{Tag: xftp.FILE, DHKey: dh, Nonce: nonce}, body: sealed, size: body.Size + 16}
	}
	return reply{resp: &xftp.Response{Tag: xftp.OK}}
}

// put stores an FPUT body: the request's bytes after the command block,
// exactly the chunk's size, within the upload timeout.
func (b *Binding) put(r *http.Request, w http.ResponseWriter, senderID []byte, auth server.Auth) reply {
	deadline := time.Now().Add(b.o.UploadTimeout)
	ctx, cancel := context.WithDeadline(r.Context(), deadline)
	defer cancel()
	http.NewResponseController(w).SetReadDeadline(deadline)
	length := int64(-1)
	if r.ContentLength >= 0 {
		length = r.ContentLength - xftp.BlockSize
	}
	err := b.svc.Upload(ctx, senderID, auth, r.Body, length)
	if err != nil && !time.Now().Before(deadline) {
		return reply{resp: xftp.ErrResponse(xftp.ErrTimeout)}
	}
	if err != nil {
		return reply{resp: xftp.ErrResponse(b.errorFor(ctx, err))}
	}
	// A chunk stored before: SimpleX's server reads and drops the body.
	io.CopyN(io.Discard, r.Body, 4<<20+1)
	return reply{resp: &xftp.Response{Tag: xftp.OK}}
}

// errorFor maps a service error to its XFTP error. A backend that cannot
// be reached aborts the stream instead: SimpleX's clients take every ERR as
// final, but retry after a broken connection, which is what an outage is.
func (b *Binding) errorFor(ctx context.Context, err error) *xftp.Error {
	var be *blocklist.BlockedError
	switch {
	case errors.As(err, &be):
		return xftp.BlockedError(blockingInfo(be.Record.Record))
	case errors.Is(err, server.ErrAuth), errors.Is(err, server.ErrProhibited),
		errors.Is(err, server.ErrKeyInUse), errors.Is(err, server.ErrClock):
		return xftp.ErrAuth
	case errors.Is(err, server.ErrSize):
		return xftp.ErrSize
	case errors.Is(err, server.ErrDigest):
		return xftp.ErrDigest
	case errors.Is(err, server.ErrQuota):
		return xftp.ErrQuota
	case errors.Is(err, server.ErrNoChunk):
		return xftp.ErrNoFile
	case errors.Is(err, server.ErrSyntax):
		return xftp.CmdError(xftp.CmdSyntax)
	case errors.Is(err, server.ErrFull), errors.Is(err, server.ErrCorrupt):
		return xftp.ErrFileIO
	case errors.Is(err, os.ErrDeadlineExceeded):
		return xftp.ErrTimeout
	case ctx.Err() != nil:
		panic(http.ErrAbortHandler) // the client is gone
	case errors.Is(err, server.ErrUnavailable):
		b.log.Warn("a storage backend is unavailable; XFTP request aborted for the client to retry", "err", err)
		panic(http.ErrAbortHandler)
	}
	b.log.Error("XFTP request failed", "err", err)
	return xftp.ErrInternal
}

// blockingInfo says why a chunk was blocked in XFTP's terms: spam, or
// content for every other reason, and the restrictions' duration as the
// notice's ttl when they expire.
func blockingInfo(r blocklist.Record) xftp.BlockingInfo {
	info := xftp.BlockingInfo{Reason: xftp.ReasonContent}
	if r.Reason == blocklist.ReasonSpam {
		info.Reason = xftp.ReasonSpam
	}
	if r.TTL > 0 {
		info.Notice = xftp.NoticeTTL(int64(r.TTL / time.Second))
	}
	return info
}
