package api_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/identity"
)

// seed returns 32 consecutive byte values from the hex byte first.
func seed(t *testing.T, first string) []byte {
	b, err := hex.DecodeString(first)
	if err != nil || len(b) != 1 {
		t.Fatalf("seed %q", first)
	}
	s := make([]byte, 32)
	for i := range s {
		s[i] = b[0] + byte(i)
	}
	return s
}

func protocolDoc(t *testing.T) string {
	b, err := os.ReadFile("../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestWorkedExample signs the requests of docs/PROTOCOL.md's worked
// example (testdata/signed-requests.json, made from the document by
// testdata/gen/gen.mjs with node:crypto) and checks each header, byte for
// byte (Ed25519 is deterministic), and that the document shows it; then
// the identity challenge's answer.
func TestWorkedExample(t *testing.T) {
	b, err := os.ReadFile("testdata/signed-requests.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		ServerSeed  string `json:"server_seed"`
		Fingerprint string `json:"fingerprint"`
		Timestamp   int64  `json:"timestamp"`
		Requests    []struct {
			Name, Method, Path, Body, Nonce, Header string
			KeySeed                                 string `json:"key_seed"`
			BodyHash                                string `json:"body_hash"`
			Unsigned                                bool   `json:"unsigned_body"`
		} `json:"requests"`
		IdentityChallenge struct {
			Challenge, Answer string
		} `json:"identity_challenge"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	doc := protocolDoc(t)
	server := ed25519.NewKeyFromSeed(seed(t, v.ServerSeed))
	fp := identity.FingerprintOf(server.Public().(ed25519.PublicKey))
	if fp.String() != v.Fingerprint || !strings.Contains(doc, v.Fingerprint) {
		t.Fatalf("fingerprint %s, want %s (and in the document)", fp, v.Fingerprint)
	}
	for _, r := range v.Requests {
		t.Run(r.Name, func(t *testing.T) {
			key := ed25519.NewKeyFromSeed(seed(t, r.KeySeed))
			hash := api.UnsignedBody
			if !r.Unsigned {
				hash = api.BodyHash([]byte(r.Body))
			}
			if r.BodyHash != "" && (hash != r.BodyHash || !strings.Contains(doc, r.BodyHash)) {
				t.Errorf("body hash %s, want %s (and in the document)", hash, r.BodyHash)
			}
			want, err := api.ParseAuthHeader(r.Header)
			if err != nil {
				t.Fatal(err)
			}
			msg := api.SignedMessage(fp, r.Method, r.Path, v.Timestamp, want.Nonce, hash)
			got := api.AuthHeader{Timestamp: v.Timestamp, Nonce: want.Nonce, Signature: ed25519.Sign(key, msg)}
			if got.String() != r.Header {
				t.Errorf("header\n%s\nwant\n%s", got, r.Header)
			}
			if !strings.Contains(doc, api.HeaderAuth+": "+r.Header) {
				t.Errorf("docs/PROTOCOL.md does not show the %s header %q", r.Name, r.Header)
			}
			if r.Body != "" && !strings.Contains(doc, r.Body) {
				t.Errorf("docs/PROTOCOL.md does not show the %s body", r.Name)
			}
		})
	}
	// §4.1 shows the whole signed message of the create request.
	create := v.Requests[0]
	h, _ := api.ParseAuthHeader(create.Header)
	msg := api.SignedMessage(fp, create.Method, create.Path, v.Timestamp, h.Nonce, api.BodyHash([]byte(create.Body)))
	if !strings.Contains(doc, "```\n"+string(msg)+"\n```") {
		t.Errorf("docs/PROTOCOL.md §4.1 does not show the signed message:\n%s", msg)
	}

	// §13.2 step 2: the server's answer to the identity challenge, as
	// the HTTP binding builds it, and the client's check of it.
	ic := v.IdentityChallenge
	ch, err := base64.RawURLEncoding.DecodeString(ic.Challenge)
	if err != nil {
		t.Fatal(err)
	}
	id := &identity.Identity{Key: server}
	answer, err := json.Marshal(api.IdentityResponse{PublicKey: api.B64(id.Public()), Signature: id.Sign(identity.ChallengeMessage(ch))})
	if err != nil || string(answer) != ic.Answer {
		t.Errorf("identity answer %s, want %s", answer, ic.Answer)
	}
	var got api.IdentityResponse
	if err := json.Unmarshal([]byte(ic.Answer), &got); err != nil {
		t.Fatal(err)
	}
	if err := identity.VerifyChallenge(fp, ed25519.PublicKey(got.PublicKey), ch, got.Signature); err != nil {
		t.Errorf("the client refuses the vector's answer: %v", err)
	}
	if !strings.Contains(doc, "GET /v1/identity?challenge="+ic.Challenge) || !strings.Contains(doc, "`"+ic.Answer+"`") {
		t.Error("docs/PROTOCOL.md §13.2 does not show the identity challenge and its answer")
	}
}

// TestErrorTableInProtocolDoc keeps docs/PROTOCOL.md §7's table equal to
// api.Codes: every relay code is there, with its status and whether a
// retry may help.
func TestErrorTableInProtocolDoc(t *testing.T) {
	doc := protocolDoc(t)
	row := regexp.MustCompile("(?m)^\\| `([A-Z_]+)` \\| (\\d+)[^|]* \\| [^|]* \\| (yes|no)[^|]* \\|$")
	rows := map[string][2]string{}
	for _, m := range row.FindAllStringSubmatch(doc, -1) {
		rows[m[1]] = [2]string{m[2], m[3]}
	}
	admin := map[string]bool{api.CodeNotBlocked: true, api.CodeAlreadyBlocked: true, api.CodeNotConfigured: true,
		api.CodeProxyLayer: true, api.CodeProxyRefused: true, api.CodeProxyBusy: true, api.CodeUnreachable: true, api.CodeWrongIdentity: true}
	for _, c := range api.Codes {
		r, ok := rows[c.Code]
		if admin[c.Code] {
			continue
		}
		retry := map[bool]string{true: "yes", false: "no"}[c.Temporary]
		if !ok || r[0] != strconv.Itoa(c.Status) || r[1] != retry {
			t.Errorf("docs/PROTOCOL.md §7: %s is %v, want status %d, retryable %s (api.Codes)", c.Code, r, c.Status, retry)
		}
	}
}
