package xftp

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"
)

// vectors.json is made by testdata/gen/gen.mjs with SimpleX's own
// TypeScript client; every vector is checked both ways where both ways
// exist: our encoder's bytes against theirs, our decoder on theirs.
type vectors struct {
	Inputs struct {
		SessionID      string   `json:"session_id"`
		EntityID       string   `json:"entity_id"`
		Digest         string   `json:"digest"`
		SenderSeed     string   `json:"sender_seed"`
		RecipientSeeds []string `json:"recipient_seeds"`
		FGETPrivate    string   `json:"fget_private"`
	}
	Transmissions map[string]string
	PaddedPing    string `json:"padded_ping"`
	Handshake     struct {
		WebHello        string `json:"web_hello"`
		ClientHandshake string `json:"client_handshake"`
	}
	Download struct {
		ServerPrivate string `json:"server_private"`
		ServerPublic  string `json:"server_public"`
		Nonce         string
		Plaintext     string
		Sealed        string
	}
	Responses map[string]struct {
		Bytes   string
		Decoded json.RawMessage
	}
	Addresses []struct {
		Address string
		KeyHash string `json:"key_hash"`
		Host    string
		Port    string
	}
}

func loadVectors(t *testing.T) *vectors {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return &v
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVectorsTransmissions(t *testing.T) {
	v := loadVectors(t)
	sess := unhex(t, v.Inputs.SessionID)
	entity := unhex(t, v.Inputs.EntityID)
	snd := ed25519.NewKeyFromSeed(unhex(t, v.Inputs.SenderSeed))
	r1 := ed25519.NewKeyFromSeed(unhex(t, v.Inputs.RecipientSeeds[0]))
	r2 := ed25519.NewKeyFromSeed(unhex(t, v.Inputs.RecipientSeeds[1]))
	fget, err := ecdh.X25519().NewPrivateKey(unhex(t, v.Inputs.FGETPrivate))
	if err != nil {
		t.Fatal(err)
	}
	rkeys := []ed25519.PublicKey{r1.Public().(ed25519.PublicKey), r2.Public().(ed25519.PublicKey)}
	fnew := &Command{Tag: FNEW, SenderKey: snd.Public().(ed25519.PublicKey), Size: 65536,
		Digest: unhex(t, v.Inputs.Digest), RecipientKeys: rkeys}
	fnewAuth := *fnew
	fnewAuth.BasicAuth = []byte("s3cret")
	cases := map[string]struct {
		cmd    *Command
		entity []byte
		key    ed25519.PrivateKey
	}{
		"fnew":      {fnew, nil, snd},
		"fnew_auth": {&fnewAuth, nil, snd},
		"fadd":      {&Command{Tag: FADD, RecipientKeys: rkeys}, entity, snd},
		"fput":      {&Command{Tag: FPUT}, entity, snd},
		"fdel":      {&Command{Tag: FDEL}, entity, snd},
		"fget":      {&Command{Tag: FGET, DHKey: fget.PublicKey().Bytes()}, entity, r1},
		"ping":      {&Command{Tag: PING}, nil, nil},
	}
	if len(cases) != len(v.Transmissions) {
		t.Fatalf("%d vectors, %d cases", len(v.Transmissions), len(cases))
	}
	for name, c := range cases {
		theirs := unhex(t, v.Transmissions[name])
		cb, err := c.cmd.Encode()
		if err != nil {
			t.Fatal(name, err)
		}
		ours, err := EncodeTransmission(sess, nil, c.entity, cb, c.key)
		if err != nil {
			t.Fatal(name, err)
		}
		if msg, _ := Unpad(ours); !bytes.Equal(msg, theirs) {
			t.Errorf("%s: our encoding differs from xftp-web's:\n ours   %x\n theirs %x", name, msg, theirs)
		}
		block, _ := Pad(theirs)
		tr, err := ParseTransmission(block)
		if err != nil {
			t.Fatalf("%s: parsing xftp-web's block: %v", name, err)
		}
		if !bytes.Equal(tr.SessionID, sess) || !bytes.Equal(tr.EntityID, c.entity) || len(tr.CorrID) != 0 {
			t.Errorf("%s: session/entity/corr IDs parsed wrongly", name)
		}
		if c.key != nil && !tr.Verify(c.key.Public().(ed25519.PublicKey)) {
			t.Errorf("%s: xftp-web's signature does not verify", name)
		}
		got, cerr := ParseCommand(tr.Command)
		if cerr != nil {
			t.Fatalf("%s: %v", name, cerr)
		}
		again, _ := got.Encode()
		if !bytes.Equal(again, tr.Command) {
			t.Errorf("%s: parse then encode changed the command", name)
		}
	}
	if ping, _ := EncodeTransmission(sess, nil, nil, []byte(PING), nil); !bytes.Equal(ping, unhex(t, v.PaddedPing)) {
		t.Error("padded PING block differs from xftp-web's")
	}
}

func TestVectorsHandshake(t *testing.T) {
	v := loadVectors(t)
	challenge := make([]byte, 32)
	for i := range challenge {
		challenge[i] = byte(0x80 + i)
	}
	hello, _ := EncodeClientHello(challenge)
	if msg, _ := Unpad(hello); !bytes.Equal(msg, unhex(t, v.Handshake.WebHello)) {
		t.Errorf("web hello differs: %x", msg)
	}
	theirs, _ := Pad(unhex(t, v.Handshake.WebHello))
	if ch, err := ParseClientHello(theirs); err != nil || !bytes.Equal(ch, challenge) {
		t.Errorf("parsing xftp-web's hello: %x %v", ch, err)
	}
	kh := make([]byte, 32)
	for i := range kh {
		kh[i] = byte(0x90 + i)
	}
	hs, _ := (&ClientHandshake{Version: 3, KeyHash: kh}).Encode()
	if msg, _ := Unpad(hs); !bytes.Equal(msg, unhex(t, v.Handshake.ClientHandshake)) {
		t.Errorf("client handshake differs: %x", msg)
	}
	theirs, _ = Pad(unhex(t, v.Handshake.ClientHandshake))
	if h, err := ParseClientHandshake(theirs); err != nil || h.Version != 3 || !bytes.Equal(h.KeyHash, kh) {
		t.Errorf("parsing xftp-web's client handshake: %+v %v", h, err)
	}
}

func TestVectorsDownloadCipher(t *testing.T) {
	v := loadVectors(t)
	server, _ := ecdh.X25519().NewPrivateKey(unhex(t, v.Download.ServerPrivate))
	client, _ := ecdh.X25519().NewPrivateKey(unhex(t, v.Inputs.FGETPrivate))
	var nonce [24]byte
	copy(nonce[:], unhex(t, v.Download.Nonce))
	plain := unhex(t, v.Download.Plaintext)
	sealed := unhex(t, v.Download.Sealed)
	if !bytes.Equal(server.PublicKey().Bytes(), unhex(t, v.Download.ServerPublic)) {
		t.Fatal("server public key differs")
	}
	r, err := sealBodyWith(server, nonce, client.PublicKey().Bytes(), bytes.NewReader(plain), int64(len(plain)))
	if err != nil {
		t.Fatal(err)
	}
	if ours, _ := io.ReadAll(r); !bytes.Equal(ours, sealed) {
		t.Error("our sealed body differs from xftp-web's")
	}
	or, err := OpenBody(client, server.PublicKey().Bytes(), nonce, bytes.NewReader(sealed), int64(len(plain)))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(or); err != nil || !bytes.Equal(got, plain) {
		t.Errorf("opening xftp-web's sealed body: %v", err)
	}
}

func TestVectorsResponses(t *testing.T) {
	v := loadVectors(t)
	ttl := int64(3600)
	want := map[string]*Response{
		"sids":        {Tag: SIDS, SenderID: bytes.Repeat([]byte("A"), 24), RecipientIDs: [][]byte{bytes.Repeat([]byte("B"), 24)}},
		"err_blocked": ErrResponse(BlockedError(BlockingInfo{Reason: ReasonContent, Notice: &ClientNotice{TTL: &ttl}})),
		"err_cmd":     ErrResponse(CmdError(CmdSyntax)),
		"pong":        {Tag: PONG},
	}
	for name, r := range want {
		vec := v.Responses[name]
		ours, err := r.Encode(VersionMax)
		if err != nil || !bytes.Equal(ours, unhex(t, vec.Bytes)) {
			t.Errorf("%s: our response %q, xftp-web decoded %q as %s", name, ours, unhex(t, vec.Bytes), vec.Decoded)
		}
		got, err := ParseResponse(unhex(t, vec.Bytes))
		if err != nil || got.Tag != r.Tag {
			t.Errorf("%s: parse: %v", name, err)
		}
	}
	// Below v3 BLOCKED goes out as AUTH.
	if b, _ := want["err_blocked"].Encode(2); string(b) != "ERR AUTH" {
		t.Errorf("v2 BLOCKED = %q", b)
	}
}

func TestVectorsAddresses(t *testing.T) {
	v := loadVectors(t)
	for _, a := range v.Addresses {
		got, err := ParseAddress(a.Address)
		if err != nil {
			t.Fatalf("%s: %v", a.Address, err)
		}
		// xftp-web reads the port from the first host only; SimpleX's
		// own parser (and ours) applies "host1,host2:port" to every host.
		portOK := got.Port == a.Port || strings.Contains(a.Address, ",")
		if hex.EncodeToString(got.KeyHash[:]) != a.KeyHash || got.Hosts[0] != a.Host || !portOK {
			t.Errorf("%s: got %x %v %s", a.Address, got.KeyHash, got.Hosts, got.Port)
		}
	}
}
