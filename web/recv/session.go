package recv

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/xftp/xftp/chunk"
	"github.com/xftp/xftp/identity"
)

var b64 = base64.RawURLEncoding.Strict()

// Session is one file being received: its description and its Opener.
// Its methods are safe for concurrent use.
type Session struct {
	d       *chunk.Description
	servers map[string]server // by the address string in the description
	opener  *chunk.Opener
	out     *writeQueue

	mu         sync.Mutex
	identities map[string]ed25519.PublicKey // verified, by address string
	skew       time.Duration                // server clock minus ours
	now        func() time.Time
}

// Open parses a recipient link (chunk.LinkPrefix...), or a page URL whose
// fragment holds one, and prepares to receive its file.
func Open(link string) (*Session, error) {
	link = strings.TrimSpace(link)
	if _, frag, ok := strings.Cut(link, "#"); ok {
		link = frag
	}
	if !strings.HasPrefix(link, chunk.LinkPrefix) {
		return nil, errors.New("the link is incomplete: it must end in #" + chunk.LinkPrefix + "…")
	}
	d, err := chunk.Parse([]byte(link))
	if err != nil {
		return nil, fmt.Errorf("the link is damaged: %w", err)
	}
	switch d.Party {
	case chunk.PartyRecipient:
	case chunk.PartySender:
		return nil, errors.New("this is a sender's link; it cannot download the file")
	default:
		return nil, fmt.Errorf("this page cannot open %s links yet; download the file with the xftp program", d.Party)
	}
	s := &Session{d: d, servers: map[string]server{}, out: &writeQueue{},
		identities: map[string]ed25519.PublicKey{}, now: time.Now}
	for _, c := range append(d.Chunks[:len(d.Chunks):len(d.Chunks)], d.Parity...) {
		for _, r := range c.Replicas {
			if _, ok := s.servers[r.Server]; ok {
				continue
			}
			a, err := parseServer(r.Server)
			if err != nil {
				return nil, fmt.Errorf("the link is damaged: %w", err)
			}
			s.servers[r.Server] = a
		}
	}
	if s.opener, err = chunk.NewOpener(d.Key, d.ChunkSizes(), s.out); err != nil {
		return nil, fmt.Errorf("the link is damaged: %w", err)
	}
	return s, nil
}

// Summary is what the page shows and iterates over before the first
// chunk arrives. It holds no keys or IDs.
type Summary struct {
	EncryptedSize int64          `json:"encrypted_size"` // padded; the file size is in the header
	Chunks        []ChunkSummary `json:"chunks"`
	// ParityChunks counts the Reed-Solomon parity chunks, which the page
	// does not use (see docs/WEB.md).
	ParityChunks int      `json:"parity_chunks"`
	Servers      []string `json:"servers"` // addresses, in order of first use
}

// ChunkSummary is one data chunk.
type ChunkSummary struct {
	Size     int64    `json:"size"`
	Replicas []string `json:"replicas"` // server addresses
}

// Summary describes the file.
func (s *Session) Summary() Summary {
	sum := Summary{EncryptedSize: s.d.Size, ParityChunks: len(s.d.Parity)}
	seen := map[string]bool{}
	for _, c := range s.d.Chunks {
		cs := ChunkSummary{Size: c.Size}
		for _, r := range c.Replicas {
			cs.Replicas = append(cs.Replicas, r.Server)
			if !seen[r.Server] {
				seen[r.Server] = true
				sum.Servers = append(sum.Servers, r.Server)
			}
		}
		sum.Chunks = append(sum.Chunks, cs)
	}
	return sum
}

// Host returns the host:port of a server of the description, for messages.
func (s *Session) Host(addr string) string { return s.servers[addr].host }

// IdentityRequest returns the URL of a fresh identity challenge to
// addr and the challenge, to pass back to VerifyIdentity with the answer.
// A browser cannot pin a TLS key, so every relay proves its identity this
// way before the page sends it anything.
func (s *Session) IdentityRequest(addr string) (url string, challenge []byte, err error) {
	a, ok := s.servers[addr]
	if !ok {
		return "", nil, fmt.Errorf("server %s is not in the link", redact(addr))
	}
	challenge = make([]byte, 32)
	rand.Read(challenge)
	return a.origin() + "/v1/identity?challenge=" + b64.EncodeToString(challenge), challenge, nil
}

// VerifyIdentity checks the answer (the JSON body of GET /v1/identity) to
// challenge against the fingerprint pinned in addr, and remembers the key
// for the download-key signatures of that server.
func (s *Session) VerifyIdentity(addr string, challenge, answer []byte) error {
	a, ok := s.servers[addr]
	if !ok {
		return fmt.Errorf("server %s is not in the link", redact(addr))
	}
	var ir struct {
		PublicKey string `json:"public_key"`
		Signature string `json:"signature"`
	}
	if err := json.Unmarshal(answer, &ir); err != nil {
		return fmt.Errorf("server %s: malformed identity answer", a.host)
	}
	pub, err1 := b64.DecodeString(ir.PublicKey)
	sig, err2 := b64.DecodeString(ir.Signature)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("server %s: malformed identity answer", a.host)
	}
	if err := identity.VerifyChallenge(a.fingerprint, pub, challenge, sig); err != nil {
		return fmt.Errorf("server %s: %w", a.host, err)
	}
	s.mu.Lock()
	s.identities[addr] = ed25519.PublicKey(pub)
	s.mu.Unlock()
	return nil
}

func (s *Session) identity(addr string) ed25519.PublicKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.identities[addr]
}

// SetServerTime corrects the clock used for request timestamps after a
// server refused one (CLOCK) and sent its Date.
func (s *Session) SetServerTime(t time.Time) {
	s.mu.Lock()
	s.skew = t.Sub(s.now())
	s.mu.Unlock()
}

func (s *Session) clock() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now().Add(s.skew)
}

// Header returns the file's name and size once chunk 0 has been opened.
func (s *Session) Header() (chunk.Header, error) { return s.opener.Header() }

// Write is plaintext for the page to write at Offset of the file.
type Write struct {
	Offset int64
	Data   []byte
}

// TakeWrites returns the plaintext produced since the last call, in the
// order it was produced. Writes of one chunk come in increasing offsets;
// writes never overlap. Once the header is known no write reaches past
// the file's end, but writes made before chunk 0 was opened may (padding):
// the page truncates the file to Header().Size at the end.
func (s *Session) TakeWrites() []Write { return s.out.take() }

// writeQueue is the Opener's destination: it hands plaintext to the page.
type writeQueue struct {
	mu sync.Mutex
	w  []Write
}

func (q *writeQueue) WriteAt(p []byte, off int64) (int, error) {
	q.mu.Lock()
	q.w = append(q.w, Write{Offset: off, Data: append([]byte(nil), p...)})
	q.mu.Unlock()
	return len(p), nil
}

func (q *writeQueue) take() []Write {
	q.mu.Lock()
	defer q.mu.Unlock()
	w := q.w
	q.w = nil
	return w
}
