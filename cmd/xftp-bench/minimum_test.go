package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xftp/xftp/internal/dlcrypt"
)

// TestMinimumDoesTheWork checks that the minimum endpoints do the work
// they stand for: an upload with a wrong digest or signature is refused,
// a good one is stored, a download signed by the wrong key is refused, and
// a good one decrypts to the stored size.
func TestMinimumDoesTheWork(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: starts a server process")
	}
	ceiling, base, err := startCeiling(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer ceiling.stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := newPayload(100 << 10)
	hc := newBareClient()
	defer hc.CloseIdleConnections()

	put := func(data []byte, digest []byte, sign func(pub ed25519.PublicKey, sk ed25519.PrivateKey) []byte) int {
		t.Helper()
		pub, sk, _ := ed25519.GenerateKey(rand.Reader)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, base+"/min/up", bytes.NewReader(data))
		req.Header.Set(minHeaderKey, minEnc.EncodeToString(pub))
		req.Header.Set(minHeaderSignature, minEnc.EncodeToString(sign(pub, sk)))
		req.Header.Set(minHeaderDigest, minEnc.EncodeToString(digest))
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	signDigest := func(_ ed25519.PublicKey, sk ed25519.PrivateKey) []byte { return ed25519.Sign(sk, p.digest[:]) }
	if code := put(p.data, p.digest[:], signDigest); code != http.StatusOK {
		t.Errorf("good upload: %d", code)
	}
	flipped := bytes.Clone(p.data)
	flipped[len(flipped)/2] ^= 1
	if code := put(flipped, p.digest[:], signDigest); code != http.StatusBadRequest {
		t.Errorf("upload with a flipped byte: %d, want 400", code)
	}
	otherKey := func(ed25519.PublicKey, ed25519.PrivateKey) []byte {
		_, sk, _ := ed25519.GenerateKey(rand.Reader)
		return ed25519.Sign(sk, p.digest[:])
	}
	if code := put(p.data, p.digest[:], otherKey); code != http.StatusForbidden {
		t.Errorf("upload signed by another key: %d, want 403", code)
	}

	key, err := minimumUpload(ctx, hc, base, p)
	if err != nil {
		t.Fatal(err)
	}
	ck, _ := dlcrypt.NewClientKey()
	rpub, _, _ := ed25519.GenerateKey(rand.Reader)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/min/down?key="+key, nil)
	req.Header.Set(minHeaderKey, minEnc.EncodeToString(ck.Public()))
	req.Header.Set(minHeaderRecipient, minEnc.EncodeToString(rpub))
	req.Header.Set(minHeaderSignature, minEnc.EncodeToString(ed25519.Sign(other, ck.Public())))
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("download signed by another key: %d, want 403", resp.StatusCode)
	}

	for _, op := range []string{"upload", "download"} {
		ops, closeAll, err := minimumOps(ctx, base, op, p, 2, false)
		if err != nil {
			t.Fatal(err)
		}
		for i, o := range ops {
			n, err := o(ctx)
			if err != nil || n != int64(len(p.data)) {
				t.Errorf("%s op %d: %d bytes, %v", op, i, n, err)
			}
		}
		closeAll()
	}
}

// TestXFTPMinimumDoesTheWork checks the XFTP minimum endpoints the same
// way, over XFTP's transport: a wrong digest or signature is refused, a
// download signed by another key is refused, one with a low-order X25519
// key too, and a good one opens to the stored size.
func TestXFTPMinimumDoesTheWork(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: starts a server process")
	}
	ceiling, base, err := startCeiling(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer ceiling.stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := dialXFTPMin(ctx, base) // fails unless TLS 1.2 with ALPN xftp/1
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p := newPayload(100 << 10)

	put := func(data []byte, sign func(sk ed25519.PrivateKey) []byte) error {
		t.Helper()
		pub, sk, _ := ed25519.GenerateKey(rand.Reader)
		msg := slices.Concat(pub, sign(sk), p.digest[:], binary.BigEndian.AppendUint64(nil, uint64(len(data))))
		resp, err := c.post(ctx, "/minx/up", msg, bytes.NewReader(data))
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	signDigest := func(sk ed25519.PrivateKey) []byte { return ed25519.Sign(sk, p.digest[:]) }
	if err := put(p.data, signDigest); err != nil {
		t.Errorf("good upload: %v", err)
	}
	flipped := bytes.Clone(p.data)
	flipped[len(flipped)/2] ^= 1
	if err := put(flipped, signDigest); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("upload with a flipped byte: %v, want 400", err)
	}
	otherKey := func(ed25519.PrivateKey) []byte {
		_, sk, _ := ed25519.GenerateKey(rand.Reader)
		return ed25519.Sign(sk, p.digest[:])
	}
	if err := put(p.data, otherKey); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("upload signed by another key: %v, want 403", err)
	}

	key, err := c.upload(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	rpub, rkey, _ := ed25519.GenerateKey(rand.Reader)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	dh := make([]byte, 32)
	rand.Read(dh)
	signed := append(bytes.Clone(dh), key...)
	if _, err := c.post(ctx, "/minx/down", slices.Concat(rpub, ed25519.Sign(other, signed), signed), nil); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("download signed by another key: %v, want 403", err)
	}
	lowOrder := append(make([]byte, 32), key...) // the all-zero point
	if _, err := c.post(ctx, "/minx/down", slices.Concat(rpub, ed25519.Sign(rkey, lowOrder), lowOrder), nil); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("download with a low-order key: %v, want 400", err)
	}
	if n, err := c.download(ctx, rpub, rkey, key, int64(len(p.data)), make([]byte, copyBufSize)); err != nil || n != int64(len(p.data)) {
		t.Errorf("download: %d bytes, %v", n, err)
	}

	for _, op := range []string{"upload", "download"} {
		ops, closeAll, err := xftpMinimumOps(ctx, base, op, p, 2, false)
		if err != nil {
			t.Fatal(err)
		}
		for i, o := range ops {
			n, err := o(ctx)
			if err != nil || n != int64(len(p.data)) {
				t.Errorf("%s op %d: %d bytes, %v", op, i, n, err)
			}
		}
		closeAll()
	}
}
