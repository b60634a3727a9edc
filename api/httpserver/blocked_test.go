package httpserver_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/api/httpclient"
	"github.com/xftp/xftp/blocklist"
	"github.com/xftp/xftp/identity"
	"github.com/xftp/xftp/internal/testrelay"
	"github.com/xftp/xftp/server"
)

// blockingServer is a relay with a blocklist on a loopback TLS listener;
// wrap, if set, sees every request first (to fake answers).
type blockingServer struct {
	*testrelay.Relay
	wrap atomic.Pointer[func(http.ResponseWriter, *http.Request) bool]
}

func newBlockingServer(t *testing.T) *blockingServer {
	t.Helper()
	bs := &blockingServer{Relay: testrelay.StartWith(t, nil, testrelay.Options{Blocklist: true})}
	bs.Wrap = func(routes http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if f := bs.wrap.Load(); f != nil && (*f)(w, r) {
				return
			}
			routes.ServeHTTP(w, r)
		})
	}
	return bs
}

func (bs *blockingServer) client(t *testing.T) *httpclient.Client {
	c := httpclient.NewClient(bs.Address, httpclient.ClientOptions{})
	t.Cleanup(c.Close)
	return c
}

func wantVerifiedBlock(t *testing.T, err error, fp identity.Fingerprint, chunkID []byte, what string) *blocklist.SignedRecord {
	t.Helper()
	var be *blocklist.BlockedError
	if !errors.As(err, &be) {
		t.Fatalf("%s: got %v (%T), want a verified block", what, err, err)
	}
	if be.Record.Record.Server != fp || !bytes.Equal(be.Record.Record.ChunkID, chunkID) {
		t.Fatalf("%s: record for another server or chunk", what)
	}
	return be.Record
}

func TestBlockedChunkAnswers451WithVerifiedRecord(t *testing.T) {
	bs := newBlockingServer(t)
	c := bs.client(t)
	body, digest := randomChunk(size64K)
	rk := newKey()
	snd, cr := uploadChunk(t, c, body, digest, rk)
	if _, err := server.NewModeration(bs.Service).Block(bg, server.BlockRequest{
		ID: cr.RecipientIDs[0], Reason: blocklist.ReasonContent, Notice: "court order 42",
		Restrictions: []blocklist.Restriction{blocklist.RestrictNoUploads}, TTL: time.Hour,
	}); err != nil {
		t.Fatal(err)
	}
	fp := bs.Address.Fingerprint
	_, err := c.Download(bg, cr.RecipientIDs[0], rk, int64(len(body)))
	rec := wantVerifiedBlock(t, err, fp, cr.RecipientIDs[0], "download")
	if rec.Record.Notice != "court order 42" || rec.Record.Reason != blocklist.ReasonContent {
		t.Fatalf("record fields: %+v", rec.Record)
	}
	wantVerifiedBlock(t, c.Delete(bg, cr.SenderID, snd), fp, cr.SenderID, "delete")
	wantVerifiedBlock(t, c.Upload(bg, cr.SenderID, snd, bytes.NewReader(body), int64(len(body))), fp, cr.SenderID, "upload")
	_, err = c.AddRecipients(bg, cr.SenderID, snd, pubs(newKey()))
	wantVerifiedBlock(t, err, fp, cr.SenderID, "add recipients")
	wantVerifiedBlock(t, c.Ack(bg, cr.RecipientIDs[0], rk), fp, cr.RecipientIDs[0], "ack")
	_, err = c.Create(bg, newKey(), int64(len(body)), digest, pubs(newKey()))
	wantVerifiedBlock(t, err, fp, digest[:], "create of the same digest")
	_, err = c.CreateUploaded(bg, newKey(), int64(len(body)), digest, pubs(newKey()), bytes.NewReader(body))
	wantVerifiedBlock(t, err, fp, digest[:], "create and upload of the same digest")

	// On the wire: 451 and {"error":"BLOCKED","record":"<base64url>"}.
	path := chunkPath(cr.SenderID, "")
	auth := api.Sign(snd, fp, http.MethodDelete, path, api.BodyHash(nil), time.Now()).String()
	status, raw := rawRequest(t, c, http.MethodDelete, path, nil, auth)
	var br api.BlockedResponse
	if status != 451 || json.Unmarshal([]byte(raw), &br) != nil || br.Error != "BLOCKED" {
		t.Fatalf("wire answer: %d %s", status, raw)
	}
	if _, err := blocklist.Verify(br.Record, fp, cr.SenderID); err != nil {
		t.Fatalf("wire record: %v", err)
	}
	// A block is final: the error is not temporary for retry logic.
	var ae *api.Error
	if errors.As(c.Delete(bg, cr.SenderID, snd), &ae) {
		t.Fatal("a verified block surfaced as an *api.Error")
	}
}

// TestForgedBlockingRecordsRejected fakes 451 answers from the pinned
// server and checks that none is taken for a block.
func TestForgedBlockingRecordsRejected(t *testing.T) {
	bs := newBlockingServer(t)
	other := newBlockingServer(t)
	c := bs.client(t)
	body, digest := randomChunk(size64K)
	rk := newKey()
	_, cr := uploadChunk(t, c, body, digest, rk)
	rid := cr.RecipientIDs[0]

	sign := func(id *identity.Identity, chunkID []byte) *blocklist.SignedRecord {
		s, err := blocklist.Sign(id, blocklist.Record{ChunkID: chunkID, Reason: "spam", BlockedAt: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	valid := sign(bs.Identity, rid).Marshal()
	tampered := bytes.Clone(valid)
	tampered[len(tampered)-1] ^= 1 // signature byte
	// A record made for another chunk of this server (replayed).
	otherChunk := make([]byte, server.IDSize)
	rand.Read(otherChunk)
	retargeted := sign(bs.Identity, otherChunk).Marshal()
	// A record of server B, presented by A.
	fromB := sign(other.Identity, rid).Marshal()
	// A's record with B's signature, under A's key or under B's key.
	raw := valid[:len(valid)-96]
	bSig := ed25519.Sign(other.Identity.Key, raw)
	forgedRaw := append(append(bytes.Clone(raw), bs.Identity.Public()...), bSig...)
	bKey := append(append(bytes.Clone(raw), other.Identity.Public()...), bSig...)
	cases := []struct {
		name string
		body string
		want error
	}{
		{"unsigned, no record", `{"error":"BLOCKED"}`, nil},
		{"not JSON", `blocked!`, nil},
		{"wrong code", `{"error":"AUTH","record":"` + enc.EncodeToString(valid) + `"}`, nil},
		{"truncated", `{"error":"BLOCKED","record":"` + enc.EncodeToString(valid[:len(valid)-10]) + `"}`, blocklist.ErrMalformed},
		{"bad signature", `{"error":"BLOCKED","record":"` + enc.EncodeToString(tampered) + `"}`, blocklist.ErrBadSignature},
		{"retargeted", `{"error":"BLOCKED","record":"` + enc.EncodeToString(retargeted) + `"}`, blocklist.ErrWrongChunk},
		{"from another server", `{"error":"BLOCKED","record":"` + enc.EncodeToString(fromB) + `"}`, blocklist.ErrWrongServer},
		{"signed by another key", `{"error":"BLOCKED","record":"` + enc.EncodeToString(forgedRaw) + `"}`, blocklist.ErrBadSignature},
		{"under another key", `{"error":"BLOCKED","record":"` + enc.EncodeToString(bKey) + `"}`, blocklist.ErrWrongServer},
		{"too large", `{"error":"BLOCKED","record":"` + strings.Repeat("A", 9000) + `"}`, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := func(w http.ResponseWriter, r *http.Request) bool {
				if !strings.HasSuffix(r.URL.Path, "/download") {
					return false
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(451)
				io.WriteString(w, tc.body)
				return true
			}
			bs.wrap.Store(&f)
			defer bs.wrap.Store(nil)
			_, err := c.Download(bg, rid, rk, int64(len(body)))
			var be *blocklist.BlockedError
			var bre *httpclient.BlockingRecordError
			if errors.As(err, &be) || !errors.As(err, &bre) || !errors.Is(err, httpclient.ErrInvalidBlockingRecord) {
				t.Fatalf("got %v (%T), want an invalid-record error", err, err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want it to wrap %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), "sent an invalid blocking record") || !strings.Contains(err.Error(), bs.Address.Host) {
				t.Fatalf("message %q does not name the server and the fault", err)
			}
		})
	}
	// The genuine record of this chunk, on the other hand, is believed.
	f := func(w http.ResponseWriter, r *http.Request) bool {
		w.WriteHeader(451)
		io.WriteString(w, `{"error":"BLOCKED","record":"`+enc.EncodeToString(valid)+`"}`)
		return true
	}
	bs.wrap.Store(&f)
	_, err := c.Download(bg, rid, rk, int64(len(body)))
	wantVerifiedBlock(t, err, bs.Address.Fingerprint, rid, "genuine record")
	// The same record replayed for a request about another ID is not.
	var bre *httpclient.BlockingRecordError
	if err := c.Ack(bg, otherChunk, rk); !errors.As(err, &bre) || !errors.Is(err, blocklist.ErrWrongChunk) {
		t.Fatalf("record replayed for another ID: %v", err)
	}
}
