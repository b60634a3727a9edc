package main

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadConfig feeds arbitrary files to the config loader: it must never
// panic, and whatever loads must either validate or say which key is wrong.
func FuzzLoadConfig(f *testing.F) {
	f.Add(exampleConfig)
	f.Add("quota: 10GiB\nexpiry: 7d\nchunk_sizes: [64KiB]\n")
	f.Add("storage:\n  backend: s3\n")
	f.Add("listen: [\n")
	f.Fuzz(func(t *testing.T, body string) {
		p := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := loadConfig(p, func(string) string { return "" })
		if err != nil {
			return
		}
		if _, err := c.serverConfig(func(string) string { return "" }); err != nil && err.Error() == "" {
			t.Fatal("empty validation error")
		}
	})
}
