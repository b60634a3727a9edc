package server

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xftp/xftp/blocklist"
	"github.com/xftp/xftp/identity"
	"github.com/xftp/xftp/storage"
	"github.com/xftp/xftp/storage/disk"
	"github.com/xftp/xftp/storage/embedded"
)

type memAudit struct {
	mu     sync.Mutex
	events []AuditEvent
	fail   bool
}

func (a *memAudit) Append(_ context.Context, e AuditEvent) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail {
		return errors.New("disk full")
	}
	a.events = append(a.events, e)
	return nil
}

type blockFixture struct {
	svc        *Service
	id         *identity.Identity
	store      *disk.Store
	quarantine *disk.Store
	blocks     blocklist.Store
	audit      *memAudit
}

func newBlockFixture(t *testing.T, quarantine bool) *blockFixture {
	t.Helper()
	dir := t.TempDir()
	f := &blockFixture{audit: &memAudit{}}
	var err error
	f.id, _, err = identity.LoadOrCreate(filepath.Join(dir, "identity.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if f.store, err = disk.Open(filepath.Join(dir, "chunks")); err != nil {
		t.Fatal(err)
	}
	records, err := embedded.Open(filepath.Join(dir, "records.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { records.Close() })
	if f.blocks, err = embedded.NewBlocklist(records); err != nil {
		t.Fatal(err)
	}
	o := Options{Identity: f.id, Store: f.store, Records: records, Blocklist: f.blocks, Audit: f.audit}
	if quarantine {
		if f.quarantine, err = disk.Open(filepath.Join(dir, "quarantine")); err != nil {
			t.Fatal(err)
		}
		o.Quarantine = f.quarantine
	}
	if f.svc, err = New(DefaultConfig(), o); err != nil {
		t.Fatal(err)
	}
	return f
}

// signed returns an Auth for a request signed by key.
func signed(key ed25519.PrivateKey) Auth {
	msg := make([]byte, 32)
	rand.Read(msg)
	nonce := make([]byte, NonceSize)
	rand.Read(nonce)
	return Auth{Message: msg, Signature: ed25519.Sign(key, msg), Timestamp: time.Now(), Nonce: nonce}
}

func newKey() ed25519.PrivateKey {
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	return k
}

type testChunk struct {
	sender     ed25519.PrivateKey
	recipients []ed25519.PrivateKey
	created    *Created
	body       []byte
	digest     [32]byte
}

func (f *blockFixture) upload(t *testing.T, body []byte, recipients int) *testChunk {
	t.Helper()
	c := f.create(t, body, recipients)
	if err := f.svc.Upload(context.Background(), c.created.SenderID, signed(c.sender), bytes.NewReader(body), int64(len(body))); err != nil {
		t.Fatal(err)
	}
	return c
}

// create creates a chunk for body with recipients recipients, without
// uploading it.
func (f *blockFixture) create(t *testing.T, body []byte, recipients int) *testChunk {
	t.Helper()
	c := &testChunk{sender: newKey(), body: body, digest: sha256.Sum256(body)}
	var pubs []ed25519.PublicKey
	for range recipients {
		k := newKey()
		c.recipients = append(c.recipients, k)
		pubs = append(pubs, k.Public().(ed25519.PublicKey))
	}
	var err error
	c.created, err = f.svc.Create(context.Background(), CreateRequest{
		SenderKey: c.sender.Public().(ed25519.PublicKey), Size: int64(len(body)), Digest: c.digest, RecipientKeys: pubs,
	}, signed(c.sender))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func x25519Key() []byte {
	k, _ := ecdh.X25519().GenerateKey(rand.Reader)
	return k.PublicKey().Bytes()
}

func randomBody() []byte {
	b := make([]byte, 64<<10)
	rand.Read(b)
	return b
}

// wantBlocked requires err to be a block whose record verifies against the
// server's fingerprint for exactly chunkID.
func wantBlocked(t *testing.T, f *blockFixture, err error, chunkID []byte, what string) *blocklist.SignedRecord {
	t.Helper()
	var be *blocklist.BlockedError
	if !errors.As(err, &be) {
		t.Fatalf("%s: got %v, want a block", what, err)
	}
	rec, verr := blocklist.Verify(be.Record.Marshal(), f.id.Fingerprint(), chunkID)
	if verr != nil {
		t.Fatalf("%s: record does not verify for the request's ID: %v", what, verr)
	}
	return rec
}

func TestBlockAnswersEveryPathWithTheRecordOfThatID(t *testing.T) {
	f := newBlockFixture(t, false)
	ctx := context.Background()
	c := f.upload(t, randomBody(), 2)
	other := f.upload(t, randomBody(), 1)
	sid, r0, r1 := c.created.SenderID, c.created.RecipientIDs[0], c.created.RecipientIDs[1]

	bc, err := NewModeration(f.svc).Block(ctx, BlockRequest{
		ID: r1, Reason: blocklist.ReasonContent, Notice: "reported", TTL: 720 * time.Hour,
		Restrictions: []blocklist.Restriction{blocklist.RestrictNoUploads},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(bc.Keys) != 4 || bc.Body != "deleted" || len(bc.Code) != CaseCodeSize {
		t.Fatalf("block case %+v: want 4 keys (sender, 2 recipients, digest) and the body deleted", bc)
	}

	rec := wantBlocked(t, f, f.svc.Upload(ctx, sid, signed(c.sender), bytes.NewReader(c.body), int64(len(c.body))), sid, "upload")
	if rec.Record.Notice != "reported" || !bytes.Equal(rec.Record.AppealCode, bc.Code) {
		t.Fatalf("record %+v does not carry the block's notice and case", rec.Record)
	}
	_, err = f.svc.AddRecipients(ctx, sid, []ed25519.PublicKey{newKey().Public().(ed25519.PublicKey)}, signed(c.sender))
	wantBlocked(t, f, err, sid, "add recipients")
	wantBlocked(t, f, f.svc.Delete(ctx, sid, signed(c.sender)), sid, "delete")
	_, err = f.svc.Download(ctx, r0, make([]byte, 32), signed(c.recipients[0]))
	wantBlocked(t, f, err, r0, "download by recipient 0")
	_, err = f.svc.Download(ctx, r1, make([]byte, 32), signed(c.recipients[1]))
	r1rec := wantBlocked(t, f, err, r1, "download by recipient 1")
	if bytes.Contains(r1rec.Raw, sid) || bytes.Contains(r1rec.Raw, r0) {
		t.Fatal("a recipient's record reveals another ID of the chunk")
	}
	wantBlocked(t, f, f.svc.Ack(ctx, r0, signed(c.recipients[0])), r0, "ack")

	// The same content under new IDs is refused at create, with a record
	// naming the digest the client sent.
	k := newKey()
	_, err = f.svc.Create(ctx, CreateRequest{
		SenderKey: k.Public().(ed25519.PublicKey), Size: int64(len(c.body)), Digest: c.digest,
		RecipientKeys: []ed25519.PublicKey{newKey().Public().(ed25519.PublicKey)},
	}, signed(k))
	wantBlocked(t, f, err, c.digest[:], "create of the same digest")

	// The body is gone and its quota released; the other chunk is untouched.
	u, err := f.svc.Usage(ctx)
	if err != nil || u.Chunks != 1 || u.Bytes != int64(len(other.body)) {
		t.Fatalf("usage after block: %+v, %v; want only the other chunk", u, err)
	}
	n := 0
	f.store.List(ctx, func(string) error { n++; return nil })
	if n != 1 {
		t.Fatalf("%d bodies stored after the block, want 1", n)
	}
	if _, err := f.svc.Download(ctx, other.created.RecipientIDs[0], x25519Key(), signed(other.recipients[0])); err != nil {
		t.Fatalf("the other chunk: %v", err)
	}
	if len(f.audit.events) != 1 || f.audit.events[0].Action != "block" || f.audit.events[0].Keys != 4 {
		t.Fatalf("audit events %+v", f.audit.events)
	}
}

// TestBlockedAnswerNeedsTheIDsKey: the record of a blocked ID goes only to
// a request signed by that ID's key; the ID alone (as anyone can put it
// into a description) gets AUTH like a random ID (issue 20, item 4).
func TestBlockedAnswerNeedsTheIDsKey(t *testing.T) {
	f := newBlockFixture(t, false)
	ctx := context.Background()
	c := f.upload(t, randomBody(), 1)
	if _, err := NewModeration(f.svc).Block(ctx, BlockRequest{ID: c.created.SenderID, Reason: blocklist.ReasonSpam}); err != nil {
		t.Fatal(err)
	}
	rid := c.created.RecipientIDs[0]
	if _, err := f.svc.Download(ctx, rid, make([]byte, 32), signed(newKey())); !errors.Is(err, ErrAuth) {
		t.Fatalf("download of a blocked ID with a wrong key: %v, want ErrAuth", err)
	}
	_, err := f.svc.Download(ctx, rid, make([]byte, 32), signed(c.recipients[0]))
	wantBlocked(t, f, err, rid, "download with the recipient's key")
	err = f.svc.Delete(ctx, c.created.SenderID, signed(c.sender))
	wantBlocked(t, f, err, c.created.SenderID, "delete with the sender's key")
	if err := f.svc.Delete(ctx, c.created.SenderID, signed(c.recipients[0])); !errors.Is(err, ErrAuth) {
		t.Fatalf("delete of a blocked ID signed by another key: %v, want ErrAuth", err)
	}
	// An ID nobody was given is as unknown as ever.
	random := make([]byte, IDSize)
	rand.Read(random)
	if _, err := f.svc.Download(ctx, random, make([]byte, 32), signed(newKey())); !errors.Is(err, ErrAuth) {
		t.Fatalf("random ID: %v, want ErrAuth", err)
	}
	// A sender ID presented as a recipient ID is not a block hit.
	if _, err := f.svc.Download(ctx, c.created.SenderID, make([]byte, 32), signed(c.sender)); !errors.Is(err, ErrAuth) {
		t.Fatalf("sender ID on the recipient path: %v, want ErrAuth", err)
	}
	// The clock window still applies before anything is looked up.
	a := signed(c.sender)
	a.Timestamp = time.Now().Add(-time.Hour)
	if err := f.svc.Delete(ctx, c.created.SenderID, a); !errors.Is(err, ErrClock) {
		t.Fatalf("stale request: %v, want ErrClock", err)
	}
}

// TestBlockWithoutAKeyAnswersAnyone: entries stored before the block kept
// the blocked ID's key still answer with their record.
func TestBlockWithoutAKeyAnswersAnyone(t *testing.T) {
	f := newBlockFixture(t, false)
	ctx := context.Background()
	id := make([]byte, IDSize)
	rand.Read(id)
	rec, err := blocklist.Sign(f.id, blocklist.Record{ChunkID: id, Reason: blocklist.ReasonSpam, BlockedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.blocks.Block(ctx, []blocklist.Entry{{Key: blocklist.Key{Kind: blocklist.KindRecipient, Value: id}, Record: rec}}); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Download(ctx, id, make([]byte, 32), signed(newKey()))
	wantBlocked(t, f, err, id, "download of an old entry")
}

func TestUnblockByIDOrCaseRestoresService(t *testing.T) {
	for _, by := range []string{"sender", "recipient", "case"} {
		t.Run(by, func(t *testing.T) {
			f := newBlockFixture(t, false)
			ctx := context.Background()
			c := f.upload(t, randomBody(), 2)
			bc, err := NewModeration(f.svc).Block(ctx, BlockRequest{ID: c.created.RecipientIDs[0], Reason: blocklist.ReasonContent})
			if err != nil {
				t.Fatal(err)
			}
			ref := map[string][]byte{"sender": c.created.SenderID, "recipient": c.created.RecipientIDs[1], "case": bc.Code}[by]
			got, err := NewModeration(f.svc).GetBlock(ctx, ref)
			if err != nil || len(got.Keys) != 4 || !bytes.Equal(got.Code, bc.Code) {
				t.Fatalf("get: %+v, %v", got, err)
			}
			un, err := NewModeration(f.svc).Unblock(ctx, ref)
			if err != nil || len(un.Keys) != 4 {
				t.Fatalf("unblock: %+v, %v", un, err)
			}
			if es, _, _ := NewModeration(f.svc).ListBlocks(ctx, "", 0); len(es) != 0 {
				t.Fatalf("%d entries left after unblock", len(es))
			}
			// The chunk stays deleted; its IDs are unknown again.
			if err := f.svc.Delete(ctx, c.created.SenderID, signed(c.sender)); !errors.Is(err, ErrAuth) {
				t.Fatalf("old chunk after unblock: %v, want ErrAuth", err)
			}
			// The same content can be uploaded again.
			f.upload(t, c.body, 1)
			if _, err := NewModeration(f.svc).Unblock(ctx, ref); !errors.Is(err, ErrNotBlocked) {
				t.Fatalf("second unblock: %v, want ErrNotBlocked", err)
			}
			if ev := f.audit.events; len(ev) != 2 || ev[1].Action != "unblock" || ev[1].Case != ev[0].Case {
				t.Fatalf("audit events %+v", ev)
			}
		})
	}
}

func TestBlockRefusals(t *testing.T) {
	f := newBlockFixture(t, false)
	ctx := context.Background()
	c := f.upload(t, randomBody(), 1)
	unknown := make([]byte, IDSize)
	rand.Read(unknown)
	cases := []struct {
		name string
		req  BlockRequest
		want error
	}{
		{"unknown ID", BlockRequest{ID: unknown, Reason: "spam"}, ErrUnknownChunk},
		{"no ID", BlockRequest{Reason: "spam"}, ErrSyntax},
		{"bad reason", BlockRequest{ID: c.created.SenderID, Reason: "Bad Reason"}, ErrSyntax},
		{"long notice", BlockRequest{ID: c.created.SenderID, Reason: "spam", Notice: strings.Repeat("x", 2000)}, ErrSyntax},
		{"bad restriction", BlockRequest{ID: c.created.SenderID, Reason: "spam", Restrictions: []blocklist.Restriction{"NO"}}, ErrSyntax},
	}
	for _, tc := range cases {
		if _, err := NewModeration(f.svc).Block(ctx, tc.req); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := NewModeration(f.svc).Block(ctx, BlockRequest{ID: c.created.SenderID, Reason: "spam"}); err != nil {
		t.Fatal(err)
	}
	if _, err := NewModeration(f.svc).Block(ctx, BlockRequest{ID: c.created.RecipientIDs[0], Reason: "spam"}); !errors.Is(err, ErrAlreadyBlocked) {
		t.Fatalf("second block: %v, want ErrAlreadyBlocked", err)
	}
	if _, err := NewModeration(f.svc).Unblock(ctx, unknown); !errors.Is(err, ErrNotBlocked) {
		t.Fatalf("unblock of an unknown ID: %v", err)
	}
	if _, _, err := NewModeration(f.svc).ListBlocks(ctx, "not-a-cursor", 10); !errors.Is(err, ErrSyntax) {
		t.Fatalf("bad cursor: %v", err)
	}

	// Without a blocklist, nothing is checked and admin calls say so.
	plain, err := New(DefaultConfig(), Options{Identity: f.id, Store: f.store, Records: f.svc.records})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewModeration(plain).Block(ctx, BlockRequest{ID: unknown, Reason: "spam"}); !errors.Is(err, ErrNoBlocklist) {
		t.Fatalf("block without a blocklist: %v", err)
	}
}

func TestAuditFailureUndoesTheBlock(t *testing.T) {
	f := newBlockFixture(t, false)
	ctx := context.Background()
	c := f.upload(t, randomBody(), 1)
	f.audit.fail = true
	if _, err := NewModeration(f.svc).Block(ctx, BlockRequest{ID: c.created.SenderID, Reason: "spam"}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("block with a failing audit log: %v", err)
	}
	if es, _, _ := NewModeration(f.svc).ListBlocks(ctx, "", 0); len(es) != 0 {
		t.Fatal("an unaudited block was left in place")
	}
	if _, err := f.svc.Download(ctx, c.created.RecipientIDs[0], x25519Key(), signed(c.recipients[0])); err != nil {
		t.Fatalf("the chunk is not served after a failed block: %v", err)
	}
	f.audit.fail = false
	if _, err := NewModeration(f.svc).Block(ctx, BlockRequest{ID: c.created.SenderID, Reason: "spam"}); err != nil {
		t.Fatal(err)
	}
	f.audit.fail = true
	if _, err := NewModeration(f.svc).Unblock(ctx, c.created.SenderID); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("unblock with a failing audit log: %v", err)
	}
	if es, _, _ := NewModeration(f.svc).ListBlocks(ctx, "", 0); len(es) != 3 {
		t.Fatalf("%d entries after a failed unblock, want the 3 restored", len(es))
	}
}

func TestQuarantineKeepsTheBodyUnreachable(t *testing.T) {
	f := newBlockFixture(t, true)
	ctx := context.Background()
	c := f.upload(t, randomBody(), 1)
	bc, err := NewModeration(f.svc).Block(ctx, BlockRequest{ID: c.created.SenderID, Reason: "content"})
	if err != nil || bc.Body != "quarantined" {
		t.Fatalf("block: %+v, %v", bc, err)
	}
	key := f.audit.events[0].Chunk
	if !storage.ValidKey(key) {
		t.Fatalf("audit names chunk %q, want its internal key", key)
	}
	if n, err := f.quarantine.Stat(ctx, key); err != nil || n != int64(len(c.body)) {
		t.Fatalf("quarantined body: %d, %v", n, err)
	}
	if _, err := f.store.Stat(ctx, key); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the body is still in the served store: %v", err)
	}
	if u, _ := f.svc.Usage(ctx); u.Bytes != 0 {
		t.Fatalf("quota not released: %+v", u)
	}
	// The orphan sweeper of the served store does not touch it.
	if _, err := f.svc.SweepOrphans(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.quarantine.Stat(ctx, key); err != nil {
		t.Fatalf("quarantined body swept: %v", err)
	}
}

func TestFileAuditLogAppendsSyncedJSONLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := OpenAuditLog(path)
	if err != nil {
		t.Fatal(err)
	}
	f := newBlockFixture(t, false)
	f.svc.audit = l
	ctx := context.Background()
	c := f.upload(t, randomBody(), 1)
	if _, err := NewModeration(f.svc).Block(ctx, BlockRequest{ID: c.created.SenderID, Reason: "content", Notice: "n"}); err != nil {
		t.Fatal(err)
	}
	if _, err := NewModeration(f.svc).Unblock(ctx, c.created.SenderID); err != nil {
		t.Fatal(err)
	}
	l.Close()
	// Reopening appends rather than truncates.
	l, err = OpenAuditLog(path)
	if err != nil {
		t.Fatal(err)
	}
	l.Append(ctx, AuditEvent{Time: time.Now(), Action: "unblock", Case: "x"})
	l.Close()
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("audit log mode %v, %v", fi.Mode(), err)
	}
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), b)
	}
	var ev AuditEvent
	if err := json.Unmarshal([]byte(lines[0]), &ev); err != nil || ev.Action != "block" || ev.DigestHash == "" || ev.Chunk == "" {
		t.Fatalf("first line %s: %+v, %v", lines[0], ev, err)
	}
	for _, id := range [][]byte{c.created.SenderID, c.created.RecipientIDs[0], c.digest[:]} {
		for _, form := range []string{base64.RawURLEncoding.EncodeToString(id), base64.StdEncoding.EncodeToString(id)} {
			if strings.Contains(string(b), form) {
				t.Fatal("the audit log names a chunk ID or digest")
			}
		}
	}
}

func TestListBlocksPages(t *testing.T) {
	f := newBlockFixture(t, false)
	ctx := context.Background()
	for range 3 {
		c := f.upload(t, randomBody(), 1)
		if _, err := NewModeration(f.svc).Block(ctx, BlockRequest{ID: c.created.SenderID, Reason: "spam"}); err != nil {
			t.Fatal(err)
		}
	}
	seen := 0
	cursor := ""
	for {
		es, next, err := NewModeration(f.svc).ListBlocks(ctx, cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		seen += len(es)
		if next == "" {
			break
		}
		cursor = next
	}
	if seen != 9 {
		t.Fatalf("listed %d entries, want 9 (3 chunks x sender, recipient, digest)", seen)
	}
}
