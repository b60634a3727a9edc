package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func lookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "xftpd.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExampleConfigIsValidAndDeployed(t *testing.T) {
	c, err := loadConfig(writeConfig(t, exampleConfig), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.serverConfig(env(nil)); err != nil {
		t.Fatal(err)
	}
	if c.Quota != 10<<30 || time.Duration(c.Expiry) != 48*time.Hour || len(c.ChunkSizes) != 4 {
		t.Fatalf("example parsed wrong: %+v", c)
	}
	deployed, err := os.ReadFile("../../deploy/xftpd.example.yaml")
	if err != nil || string(deployed) != exampleConfig {
		t.Fatalf("deploy/xftpd.example.yaml is missing or differs from 'xftpd config example' (%v)", err)
	}
}

func TestEnvironmentOverridesFile(t *testing.T) {
	p := writeConfig(t, "listen: 127.0.0.1:1\nquota: 1GiB\nstorage:\n  backend: fs\n")
	c, err := loadConfig(p, env(map[string]string{
		"XFTPD_LISTEN": "127.0.0.1:2", "XFTPD_QUOTA": "2GiB", "XFTPD_STORAGE_S3_BUCKET": "b",
		"XFTPD_NEW_CHUNKS": "false", "XFTPD_CHUNK_SIZES": "64KiB,1MiB", "XFTPD_EXPIRY": "7d",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:2" || c.Quota != 2<<30 || c.Storage.S3.Bucket != "b" || c.NewChunks ||
		len(c.ChunkSizes) != 2 || time.Duration(c.Expiry) != 7*24*time.Hour {
		t.Fatalf("environment not applied: %+v", c)
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	cases := []struct{ file, env, want string }{
		{"quota: lots\n", "", "line 1"},
		{"lisen: x\n", "", "line 1: unknown key lisen"},
		{"storage:\n  s3:\n    bukket: b\n", "", "line 3: unknown key bukket"},
		{"chunk_sizes: [64KiB, 3MiB]\n", "", "chunk_sizes: xftp clients never use 3MiB"},
		{"chunk_sizes: [64KiB, 256KiB]\n", "", "chunk_sizes: lacks 1MiB, 4MiB"},
		{"storage:\n  backend: s4\n", "", "storage.backend"},
		{"storage:\n  backend: s3\nrecords:\n  backend: redis\nredis:\n  address: r:1\n", "", "storage.s3.endpoint"},
		{"storage:\n  backend: s3\n  s3:\n    endpoint: m:9000\n    bucket: b\n", "", "records.backend redis"},
		{"records:\n  backend: redis\n", "", "redis.addresses"},
		{"records:\n  backend: redis\nredis:\n  addresses: [a:1, b:1]\n", "", "redis.cluster: true"},
		{"records:\n  backend: redis\nredis:\n  address: a:1\n  prefix: \"{x}:\"\n", "", "redis.prefix"},
		{"records:\n  backend: redis\nredis:\n  address: a:1\n  replicas_ack: -1\n", "", "redis.replicas_ack"},
		{"records:\n  backend: redis\nredis:\n  address: a:1\n  replicas_ack_timeout: 2h\n", "", "redis.replicas_ack_timeout"},
		{"chunk_sizes: []\n", "", "chunk_sizes"},
		{"expiry: 10s\n", "", "expiry"},
		{"memory_limit: 1MiB\n", "", "memory_limit"},
		{"", "XFTPD_MEMORY_LIMIT=lots", "XFTPD_MEMORY_LIMIT"},
		{"", "XFTPD_NEW_CHUNKS=maybe", "XFTPD_NEW_CHUNKS"},
	}
	for _, tc := range cases {
		e := map[string]string{}
		if k, v, ok := strings.Cut(tc.env, "="); ok {
			e[k] = v
		}
		c, err := loadConfig(writeConfig(t, tc.file), env(e))
		if err == nil {
			_, err = c.serverConfig(env(e))
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("config %q env %q: error %v, want one naming %q", tc.file, tc.env, err, tc.want)
		}
	}
}

func TestConfigErrorsHaveNoGoTypes(t *testing.T) {
	for _, file := range []string{"lisen: x\n", "storage:\n  bukket: x\n", "max_streams: many\n", "log: 3\n"} {
		_, err := loadConfig(writeConfig(t, file), env(nil))
		if err == nil || strings.Contains(err.Error(), "main.") || strings.Contains(err.Error(), "struct") {
			t.Errorf("config %q: error %v, want one without Go type names", file, err)
		}
	}
}

func TestUnknownEnvironment(t *testing.T) {
	got := unknownEnv([]string{"XFTPD_QOUTA=1GiB", "XFTPD_QUOTA=1GiB", "XFTPD_STORAGE_S3_BUCKET=b", "XFTPD_S3_SECRET_KEY=s",
		"XFTPD_CONFIG=x", "XFTPD_ADMIN_LISTEN=", "HOME=/", "XFTP_SERVERS=x"})
	if len(got) != 1 || got[0] != "XFTPD_QOUTA" {
		t.Fatalf("unknownEnv = %v, want [XFTPD_QOUTA]", got)
	}
}

// Every XFTPD_ variable this package's code or the example config names is
// one unknownEnv knows, so adding a secret read from the environment
// without listing it fails here rather than warning operators who set it.
func TestEveryEnvironmentNameIsKnown(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	var names []string
	re := regexp.MustCompile(`XFTPD_[A-Z0-9_]*[A-Z0-9]`)
	for _, f := range append(files, "../../deploy/xftpd.example.yaml", "../../deploy/systemd/xftpd.service", "../../docker-compose.yml") {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllString(string(b), -1) {
			if m != "XFTPD_QOUTA" && !strings.HasSuffix(m, "_") {
				names = append(names, m+"=x")
			}
		}
	}
	if len(names) < 5 {
		t.Fatalf("found only %v", names)
	}
	if unknown := unknownEnv(names); len(unknown) > 0 {
		t.Fatalf("names used in the code but unknown to unknownEnv (add them to envSecrets): %v", unknown)
	}
}

// TestDeployConfigsValid: the configurations under deploy/ load and pass
// validation.
func TestDeployConfigsValid(t *testing.T) {
	secret := func(name string) string {
		if name == "XFTPD_S3_SECRET_KEY" {
			return "x"
		}
		return ""
	}
	for _, p := range []string{"../../deploy/xftpd.compose.yaml", "../../deploy/xftpd.cluster.yaml"} {
		c, err := loadConfig(p, secret)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if _, err := c.serverConfig(secret); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
}

// TestDurationDaysDoNotOverflow: a number of days too large for a
// time.Duration is refused; it used to wrap around silently (213504d
// became 25 minutes, which the expiry check accepts).
func TestDurationDaysDoNotOverflow(t *testing.T) {
	var d Duration
	if err := d.set("106751d"); err != nil || time.Duration(d) != 106751*24*time.Hour {
		t.Fatalf("106751d: %v, %v", time.Duration(d), err)
	}
	for _, v := range []string{"106752d", "213504d", "9223372036854775807d", "99999999999999999999d"} {
		if err := d.set(v); err == nil {
			t.Errorf("%s accepted as %v", v, time.Duration(d))
		}
	}
	if _, err := loadConfig(writeConfig(t, "expiry: 213504d\n"), env(nil)); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("expiry: 213504d: %v, want an error naming line 1", err)
	}
}

// TestReplicasAckDefault: a write waits for one replica on a cluster or
// Sentinel, for none on one server (which may have no replica), unless set.
func TestReplicasAckDefault(t *testing.T) {
	two := 2
	for _, tc := range []struct {
		r    RedisConfig
		want int
	}{
		{RedisConfig{Address: "a:1"}, 0},
		{RedisConfig{Addresses: []string{"a:1"}, Cluster: true}, 1},
		{func() RedisConfig {
			r := RedisConfig{Addresses: []string{"s:1"}}
			r.Sentinel.MasterName = "m"
			return r
		}(), 1},
		{RedisConfig{Addresses: []string{"a:1"}, Cluster: true, ReplicasAck: &two}, 2},
	} {
		if got := tc.r.replicasAck(); got != tc.want {
			t.Errorf("%+v: replicasAck %d, want %d", tc.r, got, tc.want)
		}
	}
}
