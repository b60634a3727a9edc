package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAdminTokenFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "admin.token")
	tok, created, err := loadOrCreateToken(p)
	if err != nil || !created || len(tok) < 40 {
		t.Fatalf("first run: %q %v %v", tok, created, err)
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode: %v %v", fi, err)
	}
	again, created, err := loadOrCreateToken(p)
	if err != nil || created || again != tok {
		t.Fatalf("second run: %q %v %v", again, created, err)
	}
	os.Chmod(p, 0o644)
	if _, _, err := loadOrCreateToken(p); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Fatalf("world-readable token accepted: %v", err)
	}
	os.WriteFile(p, []byte("short\n"), 0o600)
	os.Chmod(p, 0o600)
	if _, _, err := loadOrCreateToken(p); err == nil {
		t.Fatal("short token accepted")
	}
}

func TestAdminConfig(t *testing.T) {
	c, err := loadConfig("", env(nil))
	if err != nil || c.Admin.Listen != "127.0.0.1:0" {
		t.Fatalf("default admin.listen: %q %v", c.Admin.Listen, err)
	}
	c, err = loadConfig(writeConfig(t, "admin:\n  listen: nonsense\n"), env(nil))
	if err == nil {
		_, err = c.serverConfig(env(nil))
	}
	if err == nil || !strings.Contains(err.Error(), "admin.listen") {
		t.Fatalf("bad admin.listen: %v", err)
	}
	c, err = loadConfig(writeConfig(t, "admin:\n  listen: 127.0.0.1:1\n"), env(map[string]string{"XFTPD_ADMIN_LISTEN": "", "XFTPD_ADMIN_QUARANTINE": "true"}))
	if err != nil || c.Admin.Listen != "127.0.0.1:1" || !c.Admin.Quarantine {
		t.Fatalf("admin config from file and env: %+v %v", c.Admin, err)
	}
	// Present but empty switches the admin API off, as the example says.
	c, err = loadConfigLookup(writeConfig(t, "admin:\n  listen: 127.0.0.1:1\n"), lookup(map[string]string{"XFTPD_ADMIN_LISTEN": ""}))
	if err != nil || c.Admin.Listen != "" {
		t.Fatalf("XFTPD_ADMIN_LISTEN= did not disable the admin API: %q %v", c.Admin.Listen, err)
	}
	// Redis records with disk storage (and so a Redis blocklist) is valid.
	c, err = loadConfig(writeConfig(t, "storage:\n  backend: fs\nrecords:\n  backend: redis\nredis:\n  address: r:1\n"), env(nil))
	if err == nil {
		_, err = c.serverConfig(env(nil))
	}
	if err != nil {
		t.Fatalf("fs + redis: %v", err)
	}
}
