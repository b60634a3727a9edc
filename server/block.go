package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/xftp/xftp/blocklist"
	"github.com/xftp/xftp/storage"
)

// CaseCodeSize is the size of a block's case code. The code is the
// AppealCode of every record of one block: people who get the record can
// quote it, and the operator unblocks by it.
const CaseCodeSize = blocklist.AppealCodeSize

// BlockRequest asks to block one chunk.
type BlockRequest struct {
	// ID is the chunk's sender ID or one of its recipient IDs.
	ID           []byte
	Reason       blocklist.Reason
	Notice       string
	TTL          time.Duration // how long clients apply Restrictions; 0: forever
	Restrictions []blocklist.Restriction
	// FromReport is the abuse report the block is made from, if any; it
	// goes into the audit log.
	FromReport []byte
}

// BlockCase describes one block: every key blocked for one chunk.
type BlockCase struct {
	Code []byte // CaseCodeSize bytes
	// Record is the block's common record (its ChunkID is empty).
	Record blocklist.Record
	// Keys are the blocked keys: sender ID, recipient IDs and digest.
	Keys []blocklist.Key
	// Body is what happened to the chunk body (Block only): "deleted",
	// "quarantined", "none" (never uploaded) or "kept" (removing it
	// failed; it is unreachable and goes at expiry).
	Body string
}

func blockKey(id []byte, role storage.Role) blocklist.Key {
	if role == storage.RoleSender {
		return blocklist.Key{Kind: blocklist.KindSender, Value: id}
	}
	return blocklist.Key{Kind: blocklist.KindRecipient, Value: id}
}

func digestKey(d [32]byte) blocklist.Key {
	return blocklist.Key{Kind: blocklist.KindDigest, Value: bytes.Clone(d[:])}
}

// blockedEntry returns the block entry of id as role, or nil if it is not
// blocked. It runs before the chunk's record is looked up, so a blocked
// chunk answers the same whether or not its record is gone.
func (s *Service) blockedEntry(ctx context.Context, id []byte, role storage.Role) (*blocklist.Entry, error) {
	if s.blocks == nil {
		return nil, nil
	}
	e, err := s.blocks.Lookup(ctx, blockKey(id, role))
	switch {
	case errors.Is(err, blocklist.ErrNotBlocked), errors.Is(err, blocklist.ErrInvalidKey):
		return nil, nil
	case err != nil:
		return nil, unavailable(err)
	}
	return e, nil
}

// checkDigestBlocked refuses to create a chunk whose digest is blocked.
// The stored digest record is a template without a chunk ID; the answer is
// a fresh record naming the digest the client sent, which is the only
// identifier the client has at that point.
func (s *Service) checkDigestBlocked(ctx context.Context, digest [32]byte) error {
	if s.blocks == nil {
		return nil
	}
	e, err := s.blocks.Lookup(ctx, digestKey(digest))
	switch {
	case errors.Is(err, blocklist.ErrNotBlocked):
		return nil
	case err != nil:
		return unavailable(err)
	}
	r := e.Record.Record
	r.ChunkID = bytes.Clone(digest[:])
	sr, err := blocklist.Sign(s.id, r)
	if err != nil {
		return fmt.Errorf("signing a blocking record: %w", err)
	}
	return &blocklist.BlockedError{Record: sr}
}

// Block blocks the chunk that id names: its sender ID, every recipient ID
// and its digest, in one atomic step, with one record signed per ID. Then
// the chunk's record is deleted (releasing its quota) and its body deleted
// or, with a quarantine store, moved there under its internal key. The
// change is written to the audit log; if that fails, the block is undone.
func (m *Moderation) Block(ctx context.Context, req BlockRequest) (*BlockCase, error) {
	s := m.s
	if s.blocks == nil {
		return nil, ErrNoBlocklist
	}
	if len(req.ID) == 0 || len(req.ID) > blocklist.MaxKeySize {
		return nil, fmt.Errorf("%w: chunk ID", ErrSyntax)
	}
	rec, role, err := s.records.Lookup(ctx, req.ID)
	if err == nil && role == storage.RoleRecipient {
		// A recipient's lookup carries that recipient only; the block
		// takes every ID of the chunk.
		rec, _, err = s.records.Lookup(ctx, rec.SenderID)
	}
	if err == nil && !s.now().Before(rec.ExpiresAt) {
		err = storage.ErrNotFound
	}
	switch {
	case errors.Is(err, storage.ErrNotFound):
		_, lerr := s.blocks.Lookup(ctx, blockKey(req.ID, storage.RoleSender), blockKey(req.ID, storage.RoleRecipient))
		if lerr == nil {
			return nil, ErrAlreadyBlocked
		}
		return nil, ErrUnknownChunk
	case err != nil:
		return nil, unavailable(err)
	}
	code := newCaseCode()
	tmpl := blocklist.Record{
		Reason: req.Reason, Notice: req.Notice, BlockedAt: s.now(), TTL: req.TTL,
		Restrictions: req.Restrictions, AppealCode: code,
	}
	digestRec, err := blocklist.Sign(s.id, tmpl)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSyntax, err)
	}
	tmpl = digestRec.Record
	entries := make([]blocklist.Entry, 0, len(rec.Recipients)+2)
	// Each entry keeps the blocked ID's public key: the record goes only
	// to requests signed by it (authorize).
	add := func(k blocklist.Key, pub ed25519.PublicKey) error {
		r := tmpl
		r.ChunkID = k.Value
		sr, err := blocklist.Sign(s.id, r)
		if err != nil {
			return err
		}
		entries = append(entries, blocklist.Entry{Key: k, Record: sr, PublicKey: bytes.Clone(pub)})
		return nil
	}
	if err := add(blockKey(bytes.Clone(rec.SenderID), storage.RoleSender), rec.SenderKey); err != nil {
		return nil, err
	}
	for _, rc := range rec.Recipients {
		if err := add(blockKey(bytes.Clone(rc.ID), storage.RoleRecipient), rc.Key); err != nil {
			return nil, err
		}
	}
	entries = append(entries, blocklist.Entry{Key: digestKey(rec.Digest), Record: digestRec})
	keys := make([]blocklist.Key, len(entries))
	for i := range entries {
		keys[i] = entries[i].Key
	}
	if err := s.blocks.Block(ctx, entries); err != nil {
		return nil, unavailable(err)
	}
	body := "none"
	if rec.Uploaded {
		body = "deleted"
		if s.quarantine != nil {
			body = "quarantined"
		}
	}
	dh := sha256.Sum256(rec.Digest[:])
	ev := s.auditEvent("block", code, tmpl, len(keys))
	ev.Chunk, ev.DigestHash, ev.Body = rec.Key, hex.EncodeToString(dh[:]), body
	if len(req.FromReport) > 0 {
		ev.Report = hex.EncodeToString(req.FromReport)
	}
	if err := s.audit.Append(ctx, ev); err != nil {
		if uerr := s.blocks.Unblock(context.WithoutCancel(ctx), keys...); uerr != nil {
			s.log.Error("a block could not be audited nor undone", "err", uerr)
		}
		return nil, unavailable(fmt.Errorf("audit log: %w", err))
	}
	out := &BlockCase{Code: code, Record: tmpl, Keys: keys, Body: body}
	s.metrics.Count(EventBlocked, 1)
	ctx = context.WithoutCancel(ctx) // the block stands; finish the clean-up
	if body == "quarantined" {
		if err := s.quarantineBody(ctx, rec); err != nil {
			// Keep the record (and so the body) until it expires rather
			// than lose what the operator asked to keep.
			s.log.Error("quarantining a blocked chunk failed; its body stays unreachable until expiry", "err", err)
			out.Body = "kept"
			return out, nil
		}
	}
	if err := s.remove(ctx, rec.Key); err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.log.Error("removing a blocked chunk failed; it is unreachable and goes at expiry", "err", err)
		out.Body = "kept"
	}
	return out, nil
}

func (s *Service) quarantineBody(ctx context.Context, rec *storage.Record) error {
	body, size, err := s.store.Get(ctx, rec.BodyName())
	if err != nil {
		return err
	}
	defer body.Close()
	if size < rec.Size {
		return fmt.Errorf("stored body of %d bytes, want at least %d", size, rec.Size)
	}
	// The chunk's bytes only, without the trailer (body.go).
	return s.quarantine.Put(ctx, rec.Key, io.LimitReader(body, rec.Size), rec.Size)
}

func (s *Service) auditEvent(action string, code []byte, r blocklist.Record, keys int) AuditEvent {
	ev := AuditEvent{
		Time: s.now().UTC(), Action: action, Case: base64.RawURLEncoding.EncodeToString(code),
		Reason: string(r.Reason), Notice: r.Notice, TTLSeconds: int64(r.TTL / time.Second), Keys: keys,
	}
	for _, x := range r.Restrictions {
		ev.Restrictions = append(ev.Restrictions, string(x))
	}
	return ev
}

// lookupRef resolves ref, a case code or a sender or recipient ID, to the
// case code and one blocked entry of it.
func (s *Service) lookupRef(ctx context.Context, ref []byte) ([]byte, *blocklist.Entry, error) {
	if s.blocks == nil {
		return nil, nil, ErrNoBlocklist
	}
	if len(ref) == CaseCodeSize {
		return ref, nil, nil
	}
	e, err := s.blocks.Lookup(ctx, blockKey(ref, storage.RoleSender), blockKey(ref, storage.RoleRecipient))
	switch {
	case errors.Is(err, blocklist.ErrNotBlocked), errors.Is(err, blocklist.ErrInvalidKey):
		return nil, nil, ErrNotBlocked
	case err != nil:
		return nil, nil, unavailable(err)
	}
	return e.Record.Record.AppealCode, e, nil
}

// caseEntries returns every entry whose record carries code. It walks the
// whole blocklist: admin operations are rare and the request path never
// needs it.
func (s *Service) caseEntries(ctx context.Context, code []byte) ([]blocklist.Entry, error) {
	var out []blocklist.Entry
	cursor := ""
	for {
		es, next, err := s.blocks.List(ctx, cursor, blocklist.MaxListLimit)
		if err != nil {
			return nil, unavailable(err)
		}
		for _, e := range es {
			if bytes.Equal(e.Record.Record.AppealCode, code) {
				out = append(out, e)
			}
		}
		if next == "" {
			return out, nil
		}
		cursor = next
	}
}

// GetBlock returns the case that ref (a case code, or a sender or
// recipient ID) belongs to.
func (m *Moderation) GetBlock(ctx context.Context, ref []byte) (*BlockCase, error) {
	s := m.s
	code, e, err := s.lookupRef(ctx, ref)
	if err != nil {
		return nil, err
	}
	var es []blocklist.Entry
	if len(code) > 0 {
		if es, err = s.caseEntries(ctx, code); err != nil {
			return nil, err
		}
	}
	if len(es) == 0 && e != nil {
		es = []blocklist.Entry{*e} // a record without a case code
	}
	if len(es) == 0 {
		return nil, ErrNotBlocked
	}
	return caseOf(es), nil
}

func caseOf(es []blocklist.Entry) *BlockCase {
	c := &BlockCase{Record: es[0].Record.Record}
	c.Record.ChunkID = nil
	c.Code = c.Record.AppealCode
	for _, e := range es {
		c.Keys = append(c.Keys, e.Key)
	}
	return c
}

// Unblock removes every key of the case that ref (a case code, or a sender
// or recipient ID) belongs to, atomically, and writes the change to the
// audit log (undoing it if that fails). The chunk itself stays deleted:
// unblocking lets the digest be uploaded again and stops the 451 answers.
func (m *Moderation) Unblock(ctx context.Context, ref []byte) (*BlockCase, error) {
	s := m.s
	code, e, err := s.lookupRef(ctx, ref)
	if err != nil {
		return nil, err
	}
	var es []blocklist.Entry
	if len(code) > 0 {
		if es, err = s.caseEntries(ctx, code); err != nil {
			return nil, err
		}
	}
	if len(es) == 0 && e != nil {
		es = []blocklist.Entry{*e}
	}
	if len(es) == 0 {
		return nil, ErrNotBlocked
	}
	c := caseOf(es)
	if err := s.blocks.Unblock(ctx, c.Keys...); err != nil {
		return nil, unavailable(err)
	}
	if err := s.audit.Append(ctx, s.auditEvent("unblock", c.Code, c.Record, len(c.Keys))); err != nil {
		if berr := s.blocks.Block(context.WithoutCancel(ctx), es); berr != nil {
			s.log.Error("an unblock could not be audited nor undone", "err", berr)
		}
		return nil, unavailable(fmt.Errorf("audit log: %w", err))
	}
	return c, nil
}

// ListBlocks pages through the blocked keys; see blocklist.Store.List.
func (m *Moderation) ListBlocks(ctx context.Context, cursor string, limit int) ([]blocklist.Entry, string, error) {
	s := m.s
	if s.blocks == nil {
		return nil, "", ErrNoBlocklist
	}
	es, next, err := s.blocks.List(ctx, cursor, limit)
	switch {
	case errors.Is(err, blocklist.ErrInvalidCursor):
		return nil, "", fmt.Errorf("%w: cursor", ErrSyntax)
	case err != nil:
		return nil, "", unavailable(err)
	}
	return es, next, nil
}

// nopAudit is the audit log of a service without one.
type nopAudit struct{}

func (nopAudit) Append(context.Context, AuditEvent) error { return nil }

// newCaseCode makes a random case (appeal) code whose base64url form does
// not start with '-' or '_': people paste it as a command-line argument,
// where a leading '-' reads as a flag.
func newCaseCode() []byte {
	code := make([]byte, CaseCodeSize)
	for {
		rand.Read(code)
		if code[0]>>2 < 62 { // the first base64 digit is a letter or a digit
			return code
		}
	}
}
