package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/xftp/xftp/identity"
	"github.com/xftp/xftp/internal/dlcrypt"
	"github.com/xftp/xftp/internal/stream"
	"github.com/xftp/xftp/storage"
	"github.com/xftp/xftp/storage/disk"
)

// The "minimum" cells load a server process of the ceiling's kind (a
// second one, started for them) with only the work the protocol requires
// of any server per chunk, whatever its bookkeeping:
//
//   - upload: one Ed25519 verification (the request's signature), SHA-256
//     of the body against the digest given for it, and a durable write
//     (storage/disk: temporary file, fsync, rename, directory sync);
//   - download: one Ed25519 verification (the recipient's signature), an
//     ephemeral X25519 exchange, the identity's signature of the download
//     key, and the stored body read and sealed for the request (STREAM,
//     AES-256-GCM).
//
// The client does its side of the same: a fresh sender key and a signature
// per upload; a signature, an ephemeral key, a verification of the
// server's signature and decryption per download. Everything else xftpd does (records and
// their commits, nonces, quota, the stored checksum, the wire format) is
// left out, so the cell bounds what any implementation of the protocol
// could reach on this machine with these primitives, and xftpd's distance
// to it is its own overhead.

// Headers of the minimum endpoints.
const (
	minHeaderKey       = "Min-Key"       // upload: sender public key; download: client X25519 key
	minHeaderSignature = "Min-Signature" // upload: sender's signature of the digest; download: recipient's of the client key, identity's of the key message
	minHeaderRecipient = "Min-Recipient" // download: recipient public key
	minHeaderDigest    = "Min-Digest"    // upload: SHA-256 of the body
	minHeaderServerKey = "Min-Server-Key"
)

var minEnc = base64.RawURLEncoding

// minimumServer holds the handlers' state in a server process of the
// ceiling's kind.
type minimumServer struct {
	id    *identity.Identity
	dir   string
	n     atomic.Int64
	store atomic.Pointer[minimumStore]
	bufs  *sync.Pool
}

type minimumStore struct {
	dir   string
	store *disk.Store
}

func newMinimumServer(id *identity.Identity, dir string, bufs *sync.Pool) (*minimumServer, error) {
	m := &minimumServer{id: id, dir: dir, bufs: bufs}
	return m, m.reset()
}

// reset starts an empty store, so that each cell writes to a fresh
// directory as each xftpd cell does, and removes the previous one. The
// directory names carry the process ID: the ceiling's process and the
// minimum's are started alike, in the same scratch directory.
func (m *minimumServer) reset() error {
	dir := filepath.Join(m.dir, fmt.Sprintf("minimum-store-%d-%d", os.Getpid(), m.n.Add(1)))
	st, err := disk.Open(dir)
	if err != nil {
		return err
	}
	if old := m.store.Swap(&minimumStore{dir: dir, store: st}); old != nil {
		os.RemoveAll(old.dir)
	}
	return nil
}

func (m *minimumServer) register(mux *http.ServeMux) {
	mux.HandleFunc("GET /min/identity", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(minEnc.EncodeToString(m.id.Public())))
	})
	mux.HandleFunc("POST /min/reset", func(w http.ResponseWriter, r *http.Request) {
		if err := m.reset(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("PUT /min/up", m.upload)
	mux.HandleFunc("POST /min/down", m.download)
}

func (m *minimumServer) upload(w http.ResponseWriter, r *http.Request) {
	pub, err1 := minEnc.DecodeString(r.Header.Get(minHeaderKey))
	sig, err2 := minEnc.DecodeString(r.Header.Get(minHeaderSignature))
	digest, err3 := minEnc.DecodeString(r.Header.Get(minHeaderDigest))
	if err := errors.Join(err1, err2, err3); err != nil || len(pub) != ed25519.PublicKeySize || len(digest) != sha256.Size {
		http.Error(w, "bad headers", http.StatusBadRequest)
		return
	}
	if !ed25519.Verify(pub, digest, sig) {
		http.Error(w, "bad signature", http.StatusForbidden)
		return
	}
	st := m.store.Load().store
	key := storage.NewKey()
	h := sha256.New()
	if err := st.Put(r.Context(), key, io.TeeReader(r.Body, h), r.ContentLength); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if !bytes.Equal(h.Sum(nil), digest) {
		st.Delete(r.Context(), key)
		http.Error(w, "digest", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"key":"` + key + `"}`))
}

func (m *minimumServer) download(w http.ResponseWriter, r *http.Request) {
	rpub, err1 := minEnc.DecodeString(r.Header.Get(minHeaderRecipient))
	sig, err2 := minEnc.DecodeString(r.Header.Get(minHeaderSignature))
	clientKey, err3 := minEnc.DecodeString(r.Header.Get(minHeaderKey))
	if err := errors.Join(err1, err2, err3); err != nil || len(rpub) != ed25519.PublicKeySize {
		http.Error(w, "bad headers", http.StatusBadRequest)
		return
	}
	if !ed25519.Verify(rpub, clientKey, sig) {
		http.Error(w, "bad signature", http.StatusForbidden)
		return
	}
	serverKey, c, err := dlcrypt.ServerCipher(clientKey)
	if err != nil {
		http.Error(w, "key", http.StatusBadRequest)
		return
	}
	body, size, err := m.store.Load().store.Get(r.Context(), r.URL.Query().Get("key"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	defer body.Close()
	w.Header().Set(minHeaderServerKey, minEnc.EncodeToString(serverKey))
	w.Header().Set(minHeaderSignature, minEnc.EncodeToString(m.id.Sign(dlcrypt.KeyMessage(serverKey, clientKey))))
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(c.CiphertextSize(size), 10))
	bp := m.bufs.Get().(*[]byte)
	defer m.bufs.Put(bp)
	io.CopyBuffer(onlyWriter{w}, stream.NewSealingReader(c, body, size), *bp)
}

// onlyWriter hides ReadFrom, so that io.CopyBuffer uses the buffer.
type onlyWriter struct{ io.Writer }

// minimumIdentity fetches the ceiling's identity key, which signs download
// keys.
func minimumIdentity(ctx context.Context, hc *http.Client, base string) (ed25519.PublicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/min/identity", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	pub, err := minEnc.DecodeString(string(b))
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("minimum: bad identity %q", b)
	}
	return pub, nil
}

// minimumReset empties the store: after each cell, as xftpd's cells
// remove their data, so that every cell starts from an empty one.
func minimumReset(ctx context.Context, hc *http.Client, base string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/min/reset", nil)
	if err != nil {
		return err
	}
	return send(hc, req, "minimum: reset")
}

// minimumOps makes one op per worker against the minimum endpoints at base.
func minimumOps(ctx context.Context, base string, op string, p payload, workers int, shared bool) (ops []opFunc, closeAll func(), err error) {
	var clients []*http.Client
	closeAll = func() {
		for _, c := range clients {
			c.CloseIdleConnections()
		}
	}
	size := int64(len(p.data))
	ctl := newBareClient()
	clients = append(clients, ctl)
	idPub, err := minimumIdentity(ctx, ctl, base)
	if err != nil {
		return nil, closeAll, err
	}
	var keys []string
	if op == "download" {
		// Stored bodies to download, as xftpd's cells pre-create chunks.
		for range min(workers, 16) {
			k, err := minimumUpload(ctx, ctl, base, p)
			if err != nil {
				return nil, closeAll, err
			}
			keys = append(keys, k)
		}
	}
	for i := range workers {
		if i == 0 || !shared {
			clients = append(clients, newBareClient())
		}
		hc := clients[len(clients)-1]
		switch op {
		case "upload":
			ops = append(ops, func(ctx context.Context) (int64, error) {
				_, err := minimumUpload(ctx, hc, base, p)
				return size, err
			})
		case "download":
			buf := make([]byte, copyBufSize)
			url := base + "/min/down?key=" + keys[i%len(keys)]
			rpub, rkey, _ := ed25519.GenerateKey(rand.Reader)
			ops = append(ops, func(ctx context.Context) (int64, error) {
				ck, err := dlcrypt.NewClientKey()
				if err != nil {
					return 0, err
				}
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
				if err != nil {
					return 0, err
				}
				req.Header.Set(minHeaderKey, minEnc.EncodeToString(ck.Public()))
				req.Header.Set(minHeaderRecipient, minEnc.EncodeToString(rpub))
				req.Header.Set(minHeaderSignature, minEnc.EncodeToString(ed25519.Sign(rkey, ck.Public())))
				resp, err := hc.Do(req)
				if err != nil {
					return 0, err
				}
				defer resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return 0, fmt.Errorf("minimum download: %s", resp.Status)
				}
				serverKey, err1 := minEnc.DecodeString(resp.Header.Get(minHeaderServerKey))
				sig, err2 := minEnc.DecodeString(resp.Header.Get(minHeaderSignature))
				if err1 != nil || err2 != nil || !ed25519.Verify(idPub, dlcrypt.KeyMessage(serverKey, ck.Public()), sig) {
					return 0, errors.New("minimum download: bad server key")
				}
				c, err := ck.Cipher(serverKey)
				if err != nil {
					return 0, err
				}
				n, err := drain(stream.NewReader(c, resp.Body), buf)
				if err == nil && n != size {
					err = fmt.Errorf("minimum download: %d bytes, want %d", n, size)
				}
				return n, err
			})
		}
	}
	return ops, closeAll, nil
}

// minimumUpload stores p with a fresh sender key and returns its store key.
func minimumUpload(ctx context.Context, hc *http.Client, base string, p payload) (string, error) {
	pub, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, base+"/min/up", bytes.NewReader(p.data))
	if err != nil {
		return "", err
	}
	req.Header.Set(minHeaderKey, minEnc.EncodeToString(pub))
	req.Header.Set(minHeaderSignature, minEnc.EncodeToString(ed25519.Sign(sk, p.digest[:])))
	req.Header.Set(minHeaderDigest, minEnc.EncodeToString(p.digest[:]))
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct{ Key string }
	err = json.NewDecoder(io.LimitReader(resp.Body, 1<<10)).Decode(&out)
	switch {
	case resp.StatusCode != http.StatusOK:
		return "", fmt.Errorf("minimum upload: %s", resp.Status)
	case err != nil:
		return "", fmt.Errorf("minimum upload: %w", err)
	}
	return out.Key, nil
}
