package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/xftp/xftp/api/httpserver"
	"github.com/xftp/xftp/api/xftpserver"
	"github.com/xftp/xftp/identity"
)

// The ceiling is a bare HTTP/2 TLS server built by httpserver.NewHTTPServer, so
// with exactly xftpd's listener settings, that discards uploads and serves
// downloads from memory. A second process of the same kind serves the
// "minimum" cells (minimum.go). It runs in its own process (this binary, started
// with roleEnv=ceiling) so that its CPU time and RSS are measured the same
// way as xftpd's.

const copyBufSize = 256 << 10 // what xftpd's handler and disk store use

func runCeilingServer() error {
	dir := os.Getenv(dirEnv)
	id, _, err := identity.LoadOrCreate(filepath.Join(dir, "ceiling-identity.pem"))
	if err != nil {
		return err
	}
	src := make([]byte, 4<<20)
	rand.Read(src)
	bufs := sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /up", func(w http.ResponseWriter, r *http.Request) {
		bp := bufs.Get().(*[]byte)
		defer bufs.Put(bp)
		n, err := drain(r.Body, *bp)
		if err != nil || n != r.ContentLength {
			http.Error(w, "short body", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "2")
		w.Write([]byte("{}"))
	})
	mux.HandleFunc("GET /down", func(w http.ResponseWriter, r *http.Request) {
		size, err := strconv.ParseInt(r.URL.Query().Get("size"), 10, 64)
		if err != nil || size < 0 || size > 64<<20 {
			http.Error(w, "size", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		for size > 0 {
			n := min(size, copyBufSize)
			if _, err := w.Write(src[:n]); err != nil {
				return
			}
			size -= n
		}
	})
	minimum, err := newMinimumServer(id, dir, &bufs)
	if err != nil {
		return err
	}
	minimum.register(mux)
	minimum.registerXFTP(mux)
	srv, err := httpserver.NewHTTPServer(mux, id, httpserver.ServerOptions{})
	if err != nil {
		return err
	}
	cert, err := id.Certificate(time.Now())
	if err != nil {
		return err
	}
	xftpserver.ServeNative(srv, cert) // for the xftp-minimum cells
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println("https://" + ln.Addr().String())
	go srv.ServeTLS(ln, "", "")
	waitForStop()
	return srv.Close()
}

// waitForStop returns on SIGTERM, SIGINT or when stdin closes (the parent
// died or is done).
func waitForStop() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	eof := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(eof) }()
	select {
	case <-sig:
	case <-eof:
	}
}

// newBareClient returns an HTTP client with the transport settings of
// httpclient.NewClient (TLS 1.3, HTTP/2, 1 MiB frames, 64 MiB / 8 MiB receive
// windows), without identity pinning.
func newBareClient() *http.Client {
	tr := &http.Transport{
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS13, NextProtos: []string{"h2", "http/1.1"}, InsecureSkipVerify: true},
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   4,
		Proxy:                 nil,
		HTTP2: &http.HTTP2Config{
			MaxReadFrameSize:              1 << 20,
			MaxReceiveBufferPerConnection: 64 << 20,
			MaxReceiveBufferPerStream:     8 << 20,
			SendPingTimeout:               30 * time.Second,
			PingTimeout:                   15 * time.Second,
		},
		DialContext: (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	}
	return &http.Client{Transport: tr}
}

// ceilingOps makes one op per worker against the ceiling server at base.
func ceilingOps(base string, op string, data []byte, workers int, shared bool) (ops []opFunc, closeAll func()) {
	var clients []*http.Client
	size := int64(len(data))
	for i := range workers {
		if i == 0 || !shared {
			clients = append(clients, newBareClient())
		}
		hc := clients[len(clients)-1]
		buf := make([]byte, copyBufSize)
		switch op {
		case "upload":
			ops = append(ops, func(ctx context.Context) (int64, error) {
				req, err := http.NewRequestWithContext(ctx, http.MethodPut, base+"/up", bytes.NewReader(data))
				if err != nil {
					return 0, err
				}
				req.Header.Set("Content-Type", "application/octet-stream")
				return size, send(hc, req, "ceiling upload")
			})
		case "download":
			url := base + "/down?size=" + strconv.FormatInt(size, 10)
			ops = append(ops, func(ctx context.Context) (int64, error) {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				if err != nil {
					return 0, err
				}
				resp, err := hc.Do(req)
				if err != nil {
					return 0, err
				}
				defer resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return 0, fmt.Errorf("ceiling download: %s", resp.Status)
				}
				n, err := drain(resp.Body, buf)
				if err == nil && n != size {
					err = fmt.Errorf("ceiling download: %d bytes, want %d", n, size)
				}
				return n, err
			})
		}
	}
	return ops, func() {
		for _, c := range clients {
			c.CloseIdleConnections()
		}
	}
}

// send sends req and reads the answer, which must be 200.
func send(hc *http.Client, req *http.Request, what string) error {
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", what, resp.Status)
	}
	return nil
}
