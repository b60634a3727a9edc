package xftpserver_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/xftp/xftp/api/xftp"
	"github.com/xftp/xftp/api/xftpclient"
	"github.com/xftp/xftp/api/xftpserver"
	"github.com/xftp/xftp/blocklist"
	"github.com/xftp/xftp/internal/testenv"
	"github.com/xftp/xftp/internal/testrelay"
	"github.com/xftp/xftp/server"
)

func newKey(t testing.TB) ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pub(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

func dial(t testing.TB, addr xftp.Address, o xftpclient.Options) *xftpclient.Client {
	t.Helper()
	c, err := xftpclient.Dial(context.Background(), addr, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

type chunk struct {
	snd          ed25519.PrivateKey
	rcv          []ed25519.PrivateKey
	sid          []byte
	rids         [][]byte
	body, digest []byte
}

func create(t testing.TB, c *xftpclient.Client, size int, recipients int) *chunk {
	t.Helper()
	ch := &chunk{snd: newKey(t), body: make([]byte, size)}
	rand.Read(ch.body)
	d := sha256.Sum256(ch.body)
	ch.digest = d[:]
	var keys []ed25519.PublicKey
	for range recipients {
		k := newKey(t)
		ch.rcv = append(ch.rcv, k)
		keys = append(keys, pub(k))
	}
	var err error
	ch.sid, ch.rids, err = c.Create(context.Background(), ch.snd, uint32(size), ch.digest, keys, "")
	if err != nil {
		t.Fatalf("FNEW: %v", err)
	}
	return ch
}

func isXFTP(t testing.TB, err error, want *xftp.Error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got %v, want %v", err, want)
	}
}

// Both transports run every command, as SimpleX's native client and its
// web client do.
func TestRoundTripBothTransports(t *testing.T) {
	r := testrelay.Start(t, nil)
	ctx := context.Background()
	for _, web := range []bool{false, true} {
		c := dial(t, r.XFTP, xftpclient.Options{Web: web})
		if c.Version() != xftp.VersionMax {
			t.Fatalf("web=%v: version %d", web, c.Version())
		}
		if err := c.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		ch := create(t, c, 64<<10, 2)
		if err := c.Upload(ctx, ch.snd, ch.sid, bytes.NewReader(ch.body), int64(len(ch.body))); err != nil {
			t.Fatalf("FPUT: %v", err)
		}
		// A second FPUT of a stored chunk is taken and dropped.
		if err := c.Upload(ctx, ch.snd, ch.sid, bytes.NewReader(ch.body), int64(len(ch.body))); err != nil {
			t.Fatalf("FPUT again: %v", err)
		}
		more, err := c.AddRecipients(ctx, ch.snd, ch.sid, []ed25519.PublicKey{pub(ch.rcv[0])})
		if err != nil || len(more) != 1 {
			t.Fatalf("FADD: %v", err)
		}
		for i, rid := range append(ch.rids, more[0]) {
			var got bytes.Buffer
			key := ch.rcv[i%2]
			if i == 2 {
				key = ch.rcv[0]
			}
			if err := c.Download(ctx, key, rid, int64(len(ch.body)), &got); err != nil || !bytes.Equal(got.Bytes(), ch.body) {
				t.Fatalf("FGET %d: %v", i, err)
			}
		}
		// FACK removes the recipient: the next FGET is AUTH.
		if err := c.Ack(ctx, ch.rcv[0], ch.rids[0]); err != nil {
			t.Fatal(err)
		}
		isXFTP(t, c.Download(ctx, ch.rcv[0], ch.rids[0], int64(len(ch.body)), io.Discard), xftp.ErrAuth)
		isXFTP(t, c.Ack(ctx, ch.rcv[0], ch.rids[0]), xftp.ErrAuth)
		if err := c.Delete(ctx, ch.snd, ch.sid); err != nil {
			t.Fatal(err)
		}
		isXFTP(t, c.Download(ctx, ch.rcv[1], ch.rids[1], int64(len(ch.body)), io.Discard), xftp.ErrAuth)
		isXFTP(t, c.Delete(ctx, ch.snd, ch.sid), xftp.ErrAuth)
	}
}

// The native transport is TLS 1.2 with ChaCha20-Poly1305 and ALPN xftp/1;
// everything else on the listener stays TLS 1.3.
func TestNativeTLS(t *testing.T) {
	r := testrelay.Start(t, nil)
	conn, err := tls.Dial("tcp", r.XFTP.HostPort(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{xftp.ALPN}})
	if err != nil {
		t.Fatal(err)
	}
	st := conn.ConnectionState()
	conn.Close()
	if st.Version != tls.VersionTLS12 || st.CipherSuite != tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 ||
		st.NegotiatedProtocol != xftp.ALPN || len(st.PeerCertificates) != 2 || len(st.TLSUnique) != 12 {
		t.Fatalf("native TLS: version %x suite %x alpn %q chain %d", st.Version, st.CipherSuite, st.NegotiatedProtocol, len(st.PeerCertificates))
	}
	if h := sha256.Sum256(st.PeerCertificates[1].Raw); h != r.XFTP.KeyHash {
		t.Fatal("chain[1] is not the key hash's CA")
	}
	conn, err = tls.Dial("tcp", r.XFTP.HostPort(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if v := conn.ConnectionState().Version; v != tls.VersionTLS13 {
		t.Fatalf("h2 connection: TLS version %x, want 1.3", v)
	}
}

func TestCommandErrors(t *testing.T) {
	cfg := server.DefaultConfig()
	cfg.Quota = 300 << 10
	r := testrelay.Start(t, &cfg)
	ctx := context.Background()
	c := dial(t, r.XFTP, xftpclient.Options{})

	t.Run("size", func(t *testing.T) {
		_, _, err := c.Create(ctx, newKey(t), 1000, make([]byte, 32), []ed25519.PublicKey{pub(newKey(t))}, "")
		isXFTP(t, err, xftp.ErrSize)
	})
	t.Run("no file before FPUT", func(t *testing.T) {
		ch := create(t, c, 64<<10, 1)
		isXFTP(t, c.Download(ctx, ch.rcv[0], ch.rids[0], 64<<10, io.Discard), xftp.ErrNoFile)
		c.Delete(ctx, ch.snd, ch.sid)
	})
	t.Run("wrong key", func(t *testing.T) {
		ch := create(t, c, 64<<10, 1)
		isXFTP(t, c.Upload(ctx, newKey(t), ch.sid, bytes.NewReader(ch.body), 64<<10), xftp.ErrAuth)
		isXFTP(t, c.Download(ctx, newKey(t), ch.rids[0], 64<<10, io.Discard), xftp.ErrAuth)
		// The sender's key does not work for the recipient ID, nor the other way.
		isXFTP(t, c.Download(ctx, ch.snd, ch.rids[0], 64<<10, io.Discard), xftp.ErrAuth)
		isXFTP(t, c.Delete(ctx, ch.rcv[0], ch.sid), xftp.ErrAuth)
		// Unknown IDs are AUTH too.
		isXFTP(t, c.Delete(ctx, ch.snd, []byte("no-such-id-at-all-123456")), xftp.ErrAuth)
		c.Delete(ctx, ch.snd, ch.sid)
	})
	t.Run("digest", func(t *testing.T) {
		ch := create(t, c, 64<<10, 1)
		bad := bytes.Clone(ch.body)
		bad[0] ^= 1
		isXFTP(t, c.Upload(ctx, ch.snd, ch.sid, bytes.NewReader(bad), 64<<10), xftp.ErrDigest)
		if err := c.Upload(ctx, ch.snd, ch.sid, bytes.NewReader(ch.body), 64<<10); err != nil {
			t.Fatalf("the right body after a wrong one: %v", err)
		}
		c.Delete(ctx, ch.snd, ch.sid)
	})
	t.Run("body shorter or longer than FNEW said", func(t *testing.T) {
		ch := create(t, c, 64<<10, 1)
		fput := &xftp.Command{Tag: xftp.FPUT}
		resp, _, err := c.Transmit(ctx, fput, ch.sid, ch.snd, bytes.NewReader(ch.body[:1000]), 1000)
		if err != nil || !errors.Is(resp.Err, xftp.ErrSize) {
			t.Fatalf("short body: %+v %v", resp, err)
		}
		long := append(bytes.Clone(ch.body), 'x')
		resp, _, err = c.Transmit(ctx, fput, ch.sid, ch.snd, bytes.NewReader(long), int64(len(long)))
		if err != nil || !errors.Is(resp.Err, xftp.ErrSize) {
			t.Fatalf("long body: %+v %v", resp, err)
		}
		isXFTP(t, c.Download(ctx, ch.rcv[0], ch.rids[0], 64<<10, io.Discard), xftp.ErrNoFile)
		c.Delete(ctx, ch.snd, ch.sid)
	})
	t.Run("quota", func(t *testing.T) {
		ch := create(t, c, 256<<10, 1)
		_, _, err := c.Create(ctx, newKey(t), 64<<10, make([]byte, 32), []ed25519.PublicKey{pub(newKey(t))}, "")
		isXFTP(t, err, xftp.ErrQuota)
		c.Delete(ctx, ch.snd, ch.sid)
		create(t, c, 64<<10, 1) // room again
	})
}

// Transmission-level errors, from raw blocks.
func TestTransmissionErrors(t *testing.T) {
	r := testrelay.Start(t, nil)
	ctx := context.Background()
	c := dial(t, r.XFTP, xftpclient.Options{})
	sess := c.SessionID()
	k := newKey(t)
	send := func(block []byte) *xftp.Response {
		t.Helper()
		resp, _, err := c.TransmitBlock(ctx, block, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	enc := func(sessionID, entity, cmd []byte, key ed25519.PrivateKey) []byte {
		b, err := xftp.EncodeTransmission(sessionID, nil, entity, cmd, key)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ping := enc(sess, nil, []byte("PING"), nil)
	twoInBatch := bytes.Clone(ping)
	twoInBatch[2] = 2
	fnew, _ := (&xftp.Command{Tag: xftp.FNEW, SenderKey: pub(k), Size: 65536, Digest: make([]byte, 32), RecipientKeys: []ed25519.PublicKey{pub(k)}}).Encode()
	for name, tc := range map[string]struct {
		block []byte
		want  *xftp.Error
	}{
		"truncated block":          {ping[:1000], xftp.ErrBlock},
		"two in a batch":           {twoInBatch, xftp.ErrBlock},
		"wrong session":            {enc(make([]byte, 12), nil, []byte("PING"), nil), xftp.ErrSession},
		"unknown command":          {enc(sess, nil, []byte("FOOO"), nil), xftp.CmdError(xftp.CmdUnknown)},
		"bad syntax":               {enc(sess, []byte("e"), []byte("FGET x"), k), xftp.CmdError(xftp.CmdSyntax)},
		"FNEW unsigned":            {enc(sess, nil, fnew, nil), xftp.CmdError(xftp.CmdNoAuth)},
		"FNEW with an entity":      {enc(sess, []byte("e"), fnew, k), xftp.CmdError(xftp.CmdHasAuth)},
		"PING signed":              {enc(sess, nil, []byte("PING"), k), xftp.CmdError(xftp.CmdHasAuth)},
		"FDEL without entity":      {enc(sess, nil, []byte("FDEL"), k), xftp.CmdError(xftp.CmdNoAuth)},
		"FDEL without a signature": {enc(sess, []byte("e"), []byte("FDEL"), nil), xftp.CmdError(xftp.CmdNoAuth)},
	} {
		resp := send(tc.block)
		if resp.Tag != xftp.ERR || resp.Err.Code != tc.want.Code || resp.Err.Cmd != tc.want.Cmd {
			t.Errorf("%s: got %+v, want ERR %s", name, resp, tc.want.Encode())
		}
	}
	// The connection still works.
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

// Handshake-phase errors are raw padded strings.
func TestHandshakeErrors(t *testing.T) {
	r := testrelay.Start(t, nil)
	post := func(cc *http.ClientConn, hdr http.Header, body []byte) []byte {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, "http://"+r.XFTP.HostPort()+"/", bytes.NewReader(body))
		req.Header = hdr
		resp, err := cc.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("HTTP %d", resp.StatusCode)
		}
		b, _ := io.ReadAll(resp.Body)
		return b
	}
	conn := func(alpn string) *http.ClientConn {
		tc, err := tls.Dial("tcp", r.XFTP.HostPort(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{alpn}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tc.Close() })
		// HTTP/2 with prior knowledge over the TLS connection, as
		// xftpclient does.
		tr := &http.Transport{Protocols: new(http.Protocols),
			DialContext: func(context.Context, string, string) (net.Conn, error) { return struct{ net.Conn }{tc}, nil }}
		tr.Protocols.SetUnencryptedHTTP2(true)
		cc, err := tr.NewClientConn(context.Background(), "http", r.XFTP.HostPort())
		if err != nil {
			t.Fatal(err)
		}
		return cc
	}
	raw := func(b []byte) string {
		m, err := xftp.Unpad(b)
		if err != nil || len(b) != xftp.BlockSize {
			t.Fatalf("not a padded block (%d bytes)", len(b))
		}
		return string(m)
	}
	// A web connection must start with a web hello.
	if got := raw(post(conn("h2"), http.Header{}, make([]byte, 100))); got != "SESSION" {
		t.Errorf("web command before hello: %q", got)
	}
	// A native hello must be empty.
	if got := raw(post(conn(xftp.ALPN), http.Header{}, make([]byte, 100))); got != "HANDSHAKE" {
		t.Errorf("non-empty native hello: %q", got)
	}
	hs := func(v uint16, kh []byte) string {
		cc := conn(xftp.ALPN)
		post(cc, http.Header{}, nil)
		b, _ := (&xftp.ClientHandshake{Version: v, KeyHash: kh}).Encode()
		out := post(cc, http.Header{}, b)
		if len(out) == 0 {
			return ""
		}
		return raw(out)
	}
	if got := hs(3, make([]byte, 32)); got != "HANDSHAKE" {
		t.Errorf("wrong key hash: %q", got)
	}
	if got := hs(4, r.XFTP.KeyHash[:]); got != "HANDSHAKE" {
		t.Errorf("version 4: %q", got)
	}
	for v := uint16(1); v <= 3; v++ {
		if got := hs(v, r.XFTP.KeyHash[:]); got != "" {
			t.Errorf("version %d: %q, want an empty answer", v, got)
		}
	}
	// A client that sees another server's CA refuses it.
	other := r.XFTP
	other.KeyHash[0] ^= 1
	if _, err := xftpclient.Dial(context.Background(), other, xftpclient.Options{}); !errors.Is(err, xftpclient.ErrIdentity) {
		t.Errorf("wrong key hash in the address: %v", err)
	}
	if _, err := xftpclient.Dial(context.Background(), other, xftpclient.Options{Web: true}); !errors.Is(err, xftpclient.ErrIdentity) {
		t.Errorf("web, wrong key hash in the address: %v", err)
	}
}

// A blocked chunk answers BLOCKED with its reason and notice from v3, AUTH
// below; a re-upload of its digest is refused; unblocking restores it.
func TestBlocked(t *testing.T) {
	r := testrelay.StartWith(t, nil, testrelay.Options{Blocklist: true})
	ctx := context.Background()
	c := dial(t, r.XFTP, xftpclient.Options{})
	ch := create(t, c, 64<<10, 1)
	if err := c.Upload(ctx, ch.snd, ch.sid, bytes.NewReader(ch.body), 64<<10); err != nil {
		t.Fatal(err)
	}
	if _, err := server.NewModeration(r.Service).Block(ctx, server.BlockRequest{ID: ch.rids[0], Reason: blocklist.ReasonSpam, TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	err := c.Download(ctx, ch.rcv[0], ch.rids[0], 64<<10, io.Discard)
	var xe *xftp.Error
	if !errors.As(err, &xe) || xe.Code != xftp.CodeBlocked || xe.Blocked.Reason != "spam" || xe.Blocked.Notice == nil || *xe.Blocked.Notice.TTL != 3600 {
		t.Fatalf("FGET of a blocked chunk: %v", err)
	}
	isXFTP(t, c.Delete(ctx, ch.snd, ch.sid), xftp.ErrBlocked)
	old := dial(t, r.XFTP, xftpclient.Options{MaxVersion: 2})
	isXFTP(t, old.Download(ctx, ch.rcv[0], ch.rids[0], 64<<10, io.Discard), xftp.ErrAuth)
	_, _, err = c.Create(ctx, newKey(t), 64<<10, ch.digest, []ed25519.PublicKey{pub(newKey(t))}, "")
	isXFTP(t, err, xftp.ErrBlocked)
}

// The upload password matrix, as SimpleX's server tests it.
func TestPassword(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		server, client string
		ok             bool
	}{
		{"", "", true}, {"", "any", true}, {"s3cret", "", false}, {"s3cret", "wrong", false}, {"s3cret", "s3cret", true},
	} {
		cfg := server.DefaultConfig()
		cfg.Password = tc.server
		r := testrelay.Start(t, &cfg)
		c := dial(t, r.XFTP, xftpclient.Options{})
		_, _, err := c.Create(ctx, newKey(t), 64<<10, make([]byte, 32), []ed25519.PublicKey{pub(newKey(t))}, tc.client)
		if tc.ok != (err == nil) || (!tc.ok && !errors.Is(err, xftp.ErrAuth)) {
			t.Errorf("server %q, client %q: %v", tc.server, tc.client, err)
		}
	}
	cfg := server.DefaultConfig()
	cfg.AllowNew = false
	r := testrelay.Start(t, &cfg)
	_, _, err := dial(t, r.XFTP, xftpclient.Options{}).Create(ctx, newKey(t), 64<<10, make([]byte, 32), []ed25519.PublicKey{pub(newKey(t))}, "")
	isXFTP(t, err, xftp.ErrAuth)
}

// SimpleX's apps add a large group's recipients 200 at a time.
func TestManyRecipients(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 1000
	}
	r := testrelay.Start(t, nil)
	ctx := context.Background()
	c := dial(t, r.XFTP, xftpclient.Options{})
	ch := create(t, c, 64<<10, 200)
	if err := c.Upload(ctx, ch.snd, ch.sid, bytes.NewReader(ch.body), 64<<10); err != nil {
		t.Fatal(err)
	}
	last := newKey(t)
	var lastID []byte
	for added := 200; added < n; added += 200 {
		keys := make([]ed25519.PublicKey, 200)
		for i := range keys {
			keys[i] = pub(ch.rcv[0])
		}
		keys[199] = pub(last)
		ids, err := c.AddRecipients(ctx, ch.snd, ch.sid, keys)
		if err != nil || len(ids) != 200 {
			t.Fatalf("FADD at %d: %v", added, err)
		}
		lastID = ids[199]
	}
	var got bytes.Buffer
	if err := c.Download(ctx, last, lastID, 64<<10, &got); err != nil || !bytes.Equal(got.Bytes(), ch.body) {
		t.Fatalf("the %dth recipient's FGET: %v", n, err)
	}
}

// A client that stalls mid-FPUT gets TIMEOUT and nothing is stored.
func TestStalledUpload(t *testing.T) {
	r := testrelay.StartWith(t, nil, testrelay.Options{XFTP: xftpserver.Options{UploadTimeout: 200 * time.Millisecond}})
	ctx := context.Background()
	c := dial(t, r.XFTP, xftpclient.Options{})
	ch := create(t, c, 64<<10, 1)
	pr, pw := io.Pipe()
	go func() { pw.Write(ch.body[:1000]) }() // then nothing, until the test ends
	defer pw.Close()
	resp, _, err := c.Transmit(ctx, &xftp.Command{Tag: xftp.FPUT}, ch.sid, ch.snd, pr, 64<<10)
	if err != nil || !errors.Is(resp.Err, xftp.ErrTimeout) {
		t.Fatalf("stalled FPUT: %+v %v", resp, err)
	}
	isXFTP(t, c.Download(ctx, ch.rcv[0], ch.rids[0], 64<<10, io.Discard), xftp.ErrNoFile)
}

// Connections that make the handshake and then send nothing are closed
// by the idle timeout; their session state goes with them. The relay's
// connection hook tells when it has closed each: reading the connection
// under the client instead broke the client's own reader, which closed
// it.
func TestIdleHandshakesClosed(t *testing.T) {
	const n = 200
	var mu sync.Mutex
	closed := map[string]bool{} // by the client's address
	r := testrelay.StartWith(t, nil, testrelay.Options{IdleTimeout: 300 * time.Millisecond,
		ConnState: func(c net.Conn, s http.ConnState) {
			if s == http.StateClosed {
				mu.Lock()
				closed[c.RemoteAddr().String()] = true
				mu.Unlock()
			}
		}})
	clients := make([]string, 0, n)
	for range n {
		c, err := xftpclient.Dial(context.Background(), r.XFTP, xftpclient.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c.Conn().LocalAddr().String())
	}
	testenv.Eventually(t, 30*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, a := range clients {
			if !closed[a] {
				return false
			}
		}
		return true
	}, "an idle XFTP connection was not closed")
}
