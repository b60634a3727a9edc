package main

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"time"

	"golang.org/x/crypto/curve25519"
	//lint:ignore SA1019 HSalsa20 is crypto_box's key derivation; no other package has it
	"golang.org/x/crypto/salsa20/salsa"

	"github.com/xftp/xftp/api/xftp"
	"github.com/xftp/xftp/internal/tailbox"
	"github.com/xftp/xftp/storage"
)

// The "xftp-minimum" cells are the minimum cells (minimum.go) for SimpleX's
// XFTP: on the same server process, over XFTP's own transport (ALPN xftp/1:
// TLS 1.2 with ECDHE-ECDSA-CHACHA20-POLY1305, HTTP/2 POSTs from a client
// set up as api/xftpclient's), each request and answer starting with a
// 16 KiB block as XFTP's do, and only the work the protocol requires per
// chunk:
//
//   - upload: one Ed25519 verification (the sender's signature), SHA-256 of
//     the body against its digest, and a durable write (storage/disk). One
//     request: XFTP's FNEW round trip before the FPUT is not counted, so
//     this bound is looser than the download's;
//   - download: one Ed25519 verification (the recipient's signature), one
//     ephemeral X25519 key and exchange, and the stored body read and sealed
//     for the request with XSalsa20-Poly1305 (the tag last, as FGET's), which
//     the client opens and checks.
//
// The blocks' contents are this file's own (keys, signature, digest), not
// XFTP's encoding: the codec's parsing is not the protocol's cost.

// Block layouts (inside xftp.Pad):
//
//	upload request:    sender key (32) | signature of the digest (64) | digest (32) | size (8)
//	upload answer:     store key
//	download request:  recipient key (32) | signature of the rest (64) | X25519 key (32) | store key
//	download answer:   X25519 key (32) | nonce (24)
const minxSigned = ed25519.PublicKeySize + ed25519.SignatureSize

func (m *minimumServer) registerXFTP(mux *http.ServeMux) {
	mux.HandleFunc("POST /minx/up", m.xftpUpload)
	mux.HandleFunc("POST /minx/down", m.xftpDownload)
}

// readBlock reads and unpads a request's first block.
func readBlock(r io.Reader) ([]byte, error) {
	block := make([]byte, xftp.BlockSize)
	if _, err := io.ReadFull(r, block); err != nil {
		return nil, err
	}
	return xftp.Unpad(block)
}

func writeBlock(w http.ResponseWriter, msg []byte) error {
	block, err := xftp.Pad(msg)
	if err != nil {
		return err
	}
	_, err = w.Write(block)
	return err
}

func (m *minimumServer) xftpUpload(w http.ResponseWriter, r *http.Request) {
	msg, err := readBlock(r.Body)
	if err != nil || len(msg) != minxSigned+sha256.Size+8 {
		http.Error(w, "bad block", http.StatusBadRequest)
		return
	}
	pub, sig := ed25519.PublicKey(msg[:32]), msg[32:minxSigned]
	digest := msg[minxSigned : minxSigned+sha256.Size]
	size := int64(binary.BigEndian.Uint64(msg[minxSigned+sha256.Size:]))
	if !ed25519.Verify(pub, digest, sig) {
		http.Error(w, "bad signature", http.StatusForbidden)
		return
	}
	st := m.store.Load().store
	key := storage.NewKey()
	h := sha256.New()
	if err := st.Put(r.Context(), key, io.TeeReader(r.Body, h), size); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if !bytes.Equal(h.Sum(nil), digest) {
		st.Delete(r.Context(), key)
		http.Error(w, "digest", http.StatusBadRequest)
		return
	}
	writeBlock(w, []byte(key))
}

func (m *minimumServer) xftpDownload(w http.ResponseWriter, r *http.Request) {
	msg, err := readBlock(r.Body)
	if err != nil || len(msg) < minxSigned+32 {
		http.Error(w, "bad block", http.StatusBadRequest)
		return
	}
	rpub, sig, signed := ed25519.PublicKey(msg[:32]), msg[32:minxSigned], msg[minxSigned:]
	if !ed25519.Verify(rpub, signed, sig) {
		http.Error(w, "bad signature", http.StatusForbidden)
		return
	}
	clientKey, storeKey := signed[:32], string(signed[32:])
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		http.Error(w, "key", http.StatusInternalServerError)
		return
	}
	key, err := boxKey(priv.Bytes(), clientKey)
	if err != nil {
		http.Error(w, "key", http.StatusBadRequest)
		return
	}
	body, size, err := m.store.Load().store.Get(r.Context(), storeKey)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	defer body.Close()
	var nonce [tailbox.NonceSize]byte
	rand.Read(nonce[:])
	w.Header().Set("Content-Length", fmt.Sprint(xftp.BlockSize+tailbox.SealedSize(size)))
	if err := writeBlock(w, append(priv.PublicKey().Bytes(), nonce[:]...)); err != nil {
		return
	}
	bp := m.bufs.Get().(*[]byte)
	defer m.bufs.Put(bp)
	if _, err := io.CopyBuffer(onlyWriter{w}, tailbox.NewSealer(key, &nonce, body, size), *bp); err != nil {
		panic(http.ErrAbortHandler) // no tag that completes a broken answer
	}
}

// boxKey is crypto_box's shared key with one X25519 exchange:
// HSalsa20 of the shared secret, which must not be all zeros.
func boxKey(priv, peer []byte) (*[32]byte, error) {
	secret, err := curve25519.X25519(priv, peer)
	if err != nil {
		return nil, err
	}
	var k, s [32]byte
	var zero [16]byte
	copy(s[:], secret)
	salsa.HSalsa20(&k, &zero, &s, &salsa.Sigma)
	return &k, nil
}

// xftpMinClient is one connection to the minimum server over XFTP's
// native transport, with api/xftpclient's client settings.
type xftpMinClient struct {
	base string
	tc   *tls.Conn
	cc   *http.ClientConn
}

func dialXFTPMin(ctx context.Context, base string) (*xftpMinClient, error) {
	host := base[len("https://"):]
	raw, err := (&net.Dialer{Timeout: 15 * time.Second}).DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(raw, &tls.Config{
		InsecureSkipVerify: true, // the bench's own server on loopback
		MinVersion:         tls.VersionTLS12,
		NextProtos:         []string{xftp.ALPN},
		CipherSuites:       []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256},
	})
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, err
	}
	if st := tc.ConnectionState(); st.NegotiatedProtocol != xftp.ALPN || st.Version != tls.VersionTLS12 {
		tc.Close()
		return nil, fmt.Errorf("xftp minimum: ALPN %q, TLS %x: not XFTP's transport", st.NegotiatedProtocol, st.Version)
	}
	// HTTP/2 with prior knowledge over the TLS connection, with
	// api/xftpclient's settings.
	t := &http.Transport{
		Protocols: new(http.Protocols),
		HTTP2:     &http.HTTP2Config{MaxReadFrameSize: 1 << 20},
		DialContext: func(context.Context, string, string) (net.Conn, error) {
			return tlsAsPlain{tc}, nil
		},
	}
	t.Protocols.SetUnencryptedHTTP2(true)
	cc, err := t.NewClientConn(ctx, "http", host)
	if err != nil {
		tc.Close()
		return nil, err
	}
	return &xftpMinClient{base: "http://" + host, tc: tc, cc: cc}, nil
}

// tlsAsPlain hides that a connection is TLS (it already is).
type tlsAsPlain struct{ net.Conn }

func (c *xftpMinClient) Close() {
	c.cc.Close()
	c.tc.Close()
}

// post sends block and then body (as xftpclient does: one reader of
// unknown length) and returns the answer, which must be 200.
func (c *xftpMinClient) post(ctx context.Context, path string, msg []byte, body io.Reader) (*http.Response, error) {
	block, err := xftp.Pad(msg)
	if err != nil {
		return nil, err
	}
	rd := io.Reader(bytes.NewReader(block))
	if body != nil {
		rd = io.MultiReader(rd, body)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	resp, err := c.cc.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("xftp minimum %s: %s", path, resp.Status)
	}
	return resp, nil
}

// upload stores p with a fresh sender key and returns its store key.
func (c *xftpMinClient) upload(ctx context.Context, p payload) (string, error) {
	pub, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	msg := slices.Concat(pub, ed25519.Sign(sk, p.digest[:]), p.digest[:], binary.BigEndian.AppendUint64(nil, uint64(len(p.data))))
	resp, err := c.post(ctx, "/minx/up", msg, bytes.NewReader(p.data))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	key, err := readBlock(resp.Body)
	if err != nil {
		return "", fmt.Errorf("xftp minimum upload: %w", err)
	}
	return string(key), nil
}

// download fetches the body stored under key, sealed for this request,
// and opens it into buf.
func (c *xftpMinClient) download(ctx context.Context, rpub ed25519.PublicKey, rkey ed25519.PrivateKey, key string, size int64, buf []byte) (int64, error) {
	dh, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return 0, err
	}
	signed := append(dh.PublicKey().Bytes(), key...)
	resp, err := c.post(ctx, "/minx/down", slices.Concat(rpub, ed25519.Sign(rkey, signed), signed), nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	msg, err := readBlock(resp.Body)
	if err != nil || len(msg) != 32+tailbox.NonceSize {
		return 0, fmt.Errorf("xftp minimum download: bad answer block (%v)", err)
	}
	k, err := boxKey(dh.Bytes(), msg[:32])
	if err != nil {
		return 0, err
	}
	var nonce [tailbox.NonceSize]byte
	copy(nonce[:], msg[32:])
	n, err := drain(tailbox.NewOpener(k, &nonce, resp.Body, size), buf)
	if err == nil && n != size {
		err = fmt.Errorf("xftp minimum download: %d bytes, want %d", n, size)
	}
	return n, err
}

// xftpMinimumOps makes one op per worker against the XFTP minimum
// endpoints at base.
func xftpMinimumOps(ctx context.Context, base, op string, p payload, workers int, shared bool) (ops []opFunc, closeAll func(), err error) {
	var clients []*xftpMinClient
	closeAll = func() {
		for _, c := range clients {
			c.Close()
		}
	}
	size := int64(len(p.data))
	var keys []string
	if op == "download" {
		ctl, err := dialXFTPMin(ctx, base)
		if err != nil {
			return nil, closeAll, err
		}
		clients = append(clients, ctl)
		for range min(workers, 16) {
			k, err := ctl.upload(ctx, p)
			if err != nil {
				return nil, closeAll, err
			}
			keys = append(keys, k)
		}
	}
	var c *xftpMinClient
	for i := range workers {
		if i == 0 || !shared {
			if c, err = dialXFTPMin(ctx, base); err != nil {
				return nil, closeAll, err
			}
			clients = append(clients, c)
		}
		c := c
		switch op {
		case "upload":
			ops = append(ops, func(ctx context.Context) (int64, error) {
				_, err := c.upload(ctx, p)
				return size, err
			})
		case "download":
			buf := make([]byte, copyBufSize)
			key := keys[i%len(keys)]
			rpub, rkey, _ := ed25519.GenerateKey(rand.Reader)
			ops = append(ops, func(ctx context.Context) (int64, error) {
				return c.download(ctx, rpub, rkey, key, size, buf)
			})
		}
	}
	return ops, closeAll, nil
}

// xftpMinimumCell measures the XFTP minimum on the minimum server process.
func xftpMinimumCell(ctx context.Context, spec loadSpec, pid int, base, op string, p payload, n int, shared bool) row {
	return minimumRow(ctx, "xftp-minimum", xftpMinimumOps, spec, pid, base, op, p, n, shared)
}
