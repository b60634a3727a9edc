package httpserver

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestScrubWriterDropsPeerAddresses(t *testing.T) {
	var buf bytes.Buffer
	w := scrubWriter{slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	w.Write([]byte("http: TLS handshake error from 192.168.1.20:51234: EOF"))
	w.Write([]byte("http2: server: error reading preface from client [2001:db8::1]:443: bogus"))
	out := buf.String()
	for _, leak := range []string{"192.168.1.20", "51234", "2001:db8::1"} {
		if strings.Contains(out, leak) {
			t.Fatalf("log contains %q: %s", leak, out)
		}
	}
	if !strings.Contains(out, "handshake error from [peer]") {
		t.Fatalf("message lost: %s", out)
	}
}
