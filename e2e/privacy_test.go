package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/xftp/xftp/chunk"
)

// TestStoredStateLeaksNothing uploads a file for three recipients,
// downloads and acknowledges it, and then inspects everything xftpd keeps
// and says (data directory, record database, logs at debug level): no file
// name, file size, file key, private key or client address may appear; body
// file names must not be chunk IDs; logs must hold no chunk ID.
func TestStoredStateLeaksNothing(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	d := startDaemon(t, data, "--log-level", "debug")
	name := "secret-holiday-plans.pdf"
	size := 1234567
	file := filepath.Join(dir, name)
	writeRandom(t, file, size)
	mustOK(t, xftp(t, "upload", file, "--server", d.addr, "--recipients", "3", "-q"), "upload")
	mustOK(t, xftp(t, "download", filepath.Join(file+".xftp", "rcv2.xftp"), "-o", filepath.Join(dir, "out"), "-q"), "download")
	// A refused request too, so that error paths are logged.
	xftp(t, "download", filepath.Join(file+".xftp", "rcv2.xftp"), "-o", filepath.Join(dir, "again"), "-q")

	var secrets, ids [][]byte
	secrets = append(secrets, []byte(name), []byte(strconv.Itoa(size)))
	for _, desc := range []string{"rcv1.xftp", "rcv2.xftp", "rcv3.xftp", "snd.xftp.private"} {
		b, err := os.ReadFile(filepath.Join(file+".xftp", desc))
		if err != nil {
			t.Fatal(err)
		}
		dd, err := chunk.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, dd.Key)
		for _, c := range dd.Chunks {
			for _, r := range c.Replicas {
				secrets = append(secrets, r.Key.Seed())
				ids = append(ids, r.ID)
			}
		}
	}
	encodings := func(b []byte) []string {
		return []string{string(b), base64.RawURLEncoding.EncodeToString(b), base64.StdEncoding.EncodeToString(b), hex.EncodeToString(b)}
	}
	// Everything under the data directory: names and contents.
	err := filepath.Walk(data, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		content, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			for _, e := range encodings(s) {
				if len(e) >= 6 && (bytes.Contains(content, []byte(e)) || strings.Contains(fi.Name(), e)) {
					t.Errorf("%s holds a secret (%q...)", p, e[:6])
				}
			}
		}
		if strings.Contains(p, filepath.Join(data, "chunks")) {
			for _, id := range ids {
				for _, e := range encodings(id) {
					if strings.Contains(fi.Name(), e) {
						t.Errorf("body file %s is named by a chunk ID", fi.Name())
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	d.stop(t)
	logs := d.stderr.String()
	if !strings.Contains(logs, "level=DEBUG") {
		t.Fatalf("debug logging was not on; the check proves nothing:\n%s", logs)
	}
	for _, s := range append(secrets, ids...) {
		for _, e := range encodings(s) {
			if len(e) >= 6 && strings.Contains(logs, e) {
				t.Errorf("logs hold a secret or ID (%q...)", e[:6])
			}
		}
	}
	// The server's own listening addresses may be logged; nothing else.
	ipPort := regexp.MustCompile(`\b127\.0\.0\.1:\d+`)
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "serving") {
			continue
		}
		if ip := ipPort.FindString(line); ip != "" {
			t.Errorf("log line holds a client address: %s", line)
		}
	}
}
