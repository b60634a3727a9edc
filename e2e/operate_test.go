package e2e

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xftp/xftp/chunk"
)

// TestMetricsAndProbe runs xftpd with metrics on, moves a file through it,
// and checks the Prometheus output (counters, latency by route, no IDs) and
// the health probe used by containers.
func TestMetricsAndProbe(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	cfgPath := filepath.Join(dir, "xftpd.yaml")
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	os.WriteFile(cfgPath, []byte(fmt.Sprintf("listen: %s\nmetrics:\n  listen: 127.0.0.1:%d\n", listen, port)), 0o600)
	d := startDaemon(t, filepath.Join(dir, "data"), "--config", cfgPath, "--listen", listen)
	file := filepath.Join(dir, "f.bin")
	writeRandom(t, file, 2<<20)
	mustOK(t, xftp(t, "upload", file, "--server", d.addr, "-q"), "upload")
	mustOK(t, xftp(t, "download", filepath.Join(file+".xftp", "rcv1.xftp"), "-o", filepath.Join(dir, "out"), "-q"), "download")

	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	for _, want := range []string{
		`xftp_events_total{event="uploaded"}`, `xftp_events_total{event="downloaded"}`, `xftp_events_total{event="acked"}`,
		`xftp_request_duration_seconds_count{op="PUT /v1/chunks",protocol="native",status="200"}`,
		`xftp_backend_duration_seconds_count{backend="fs",op="put"}`, `xftp_stored_chunks`, `xftp_quota_bytes`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	b, _ := os.ReadFile(filepath.Join(file+".xftp", "rcv1.xftp"))
	desc, err := chunk.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range desc.Chunks {
		for _, r := range c.Replicas {
			if strings.Contains(text, base64.RawURLEncoding.EncodeToString(r.ID)) {
				t.Fatal("metrics expose a chunk ID")
			}
		}
	}
	if strings.Contains(text, "127.0.0.1") {
		t.Fatal("metrics expose an address")
	}

	probe := func() error {
		return exec.Command(filepath.Join(bin, "xftpd"), "probe", "--config", cfgPath).Run()
	}
	if err := probe(); err != nil {
		t.Fatalf("probe of a healthy xftpd: %v", err)
	}
	d.stop(t)
	if err := probe(); err == nil {
		t.Fatal("probe of a stopped xftpd succeeded")
	}
}
