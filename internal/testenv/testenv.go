// Package testenv gives tests the real services and tools that
// scripts/test starts or installs, named by XFTP_TEST_* environment
// variables: Redis (standalone, cluster and Sentinel), the redis-server and
// MinIO binaries, S3 endpoints, Chromium, SimpleX's xftp-web and h2spec. A
// test that needs a missing one is skipped, except under CI=true, where it
// fails: a skipped backend would hide a broken one. No test reads an
// XFTP_TEST_* variable itself.
//
// It also holds the one way tests wait: Eventually polls a condition up to a
// deadline, instead of sleeping a fixed time.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Need returns the environment variable name, or skips the test (fails it
// under CI=true) if it is not set.
func Need(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		missing(t, name+" not set; run scripts/test, which starts the services the tests use")
	}
	return v
}

// missing skips the test with msg, or fails it under CI=true.
func missing(t testing.TB, msg string) {
	t.Helper()
	if CI() {
		t.Fatal(msg)
	}
	t.Skip(msg) // not under CI: the check above fails there
}

// CI reports whether the tests run under CI=true, where nothing they need
// may be missing.
func CI() bool { return os.Getenv("CI") == "true" }

// binary is the program named by the environment variable env, else the
// first of names on the PATH; missing (skip, or fail under CI) if neither.
func binary(t testing.TB, env string, names ...string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	missing(t, "no "+names[0]+" on the PATH and "+env+" not set; run scripts/test, which installs it")
	return ""
}

// Redis is the address (host:port) of the standalone Redis of
// XFTP_TEST_REDIS.
func Redis(t testing.TB) string { return Need(t, "XFTP_TEST_REDIS") }

// RedisCluster is the node addresses of the Redis Cluster of
// XFTP_TEST_REDIS_CLUSTER (comma-separated).
func RedisCluster(t testing.TB) []string {
	return strings.Split(Need(t, "XFTP_TEST_REDIS_CLUSTER"), ",")
}

// RedisSentinel is the Sentinels (host:port) of XFTP_TEST_REDIS_SENTINEL
// (comma-separated) and the master name they watch,
// XFTP_TEST_REDIS_SENTINEL_MASTER.
func RedisSentinel(t testing.TB) (sentinels []string, master string) {
	t.Helper()
	return strings.Split(Need(t, "XFTP_TEST_REDIS_SENTINEL"), ","), Need(t, "XFTP_TEST_REDIS_SENTINEL_MASTER")
}

// RedisServer is the redis-server binary, for tests that run their own
// (to kill and restart it): XFTP_TEST_REDIS_SERVER, else the one on the
// PATH.
func RedisServer(t testing.TB) string {
	t.Helper()
	return binary(t, "XFTP_TEST_REDIS_SERVER", "redis-server")
}

// RedisCLI is the redis-cli next to RedisServer's binary, else the one on
// the PATH.
func RedisCLI(t testing.TB) string {
	t.Helper()
	cli := filepath.Join(filepath.Dir(RedisServer(t)), "redis-cli")
	if _, err := os.Stat(cli); err == nil {
		return cli
	}
	if p, err := exec.LookPath("redis-cli"); err == nil {
		return p
	}
	t.Fatal("redis-cli not found next to redis-server")
	return ""
}

// MinIOBinary is the minio server binary of XFTP_TEST_MINIO_BIN, for
// tests that start their own (erasure sets, outages).
func MinIOBinary(t testing.TB) string { return Need(t, "XFTP_TEST_MINIO_BIN") }

// H2Spec is the h2spec binary of XFTP_TEST_H2SPEC.
func H2Spec(t testing.TB) string { return Need(t, "XFTP_TEST_H2SPEC") }

// Chromium is the Chromium binary: XFTP_TEST_CHROMIUM, else Debian's
// chromium (or chromium-browser) on the PATH.
func Chromium(t testing.TB) string {
	t.Helper()
	return binary(t, "XFTP_TEST_CHROMIUM", "chromium", "chromium-browser")
}

// XFTPWeb is the folder of a built copy of SimpleX's xftp-web client
// (XFTP_TEST_XFTPWEB; scripts/test builds one), a test peer.
func XFTPWeb(t testing.TB) string {
	t.Helper()
	dir := Need(t, "XFTP_TEST_XFTPWEB")
	if _, err := os.Stat(filepath.Join(dir, "dist", "agent.js")); err != nil {
		t.Fatalf("%s is not a built xftp-web (npx tsc makes dist/): %v", dir, err)
	}
	return dir
}

// Artifacts is the folder where tests keep what helps to debug a failure
// (screenshots, logs), XFTP_TEST_ARTIFACTS; "" if none is wanted.
func Artifacts() string { return os.Getenv("XFTP_TEST_ARTIFACTS") }

// S3 is an S3 service for tests.
type S3 struct {
	Endpoint, AccessKey, SecretKey string
}

// MinIO is the MinIO of XFTP_TEST_S3_ENDPOINT, _ACCESS_KEY and _SECRET_KEY.
func MinIO(t testing.TB) S3 { return s3(t, "XFTP_TEST_S3") }

// VersityGW is the versitygw of XFTP_TEST_VERSITYGW_ENDPOINT, _ACCESS_KEY
// and _SECRET_KEY: a second S3 implementation.
func VersityGW(t testing.TB) S3 { return s3(t, "XFTP_TEST_VERSITYGW") }

func s3(t testing.TB, prefix string) S3 {
	t.Helper()
	return S3{Endpoint: Need(t, prefix+"_ENDPOINT"), AccessKey: Need(t, prefix+"_ACCESS_KEY"), SecretKey: Need(t, prefix+"_SECRET_KEY")}
}

// Eventually polls cond every few milliseconds until it holds, and fails
// the test with msg if it does not within d. Tests wait for conditions
// this way, never for a fixed time.
func Eventually(t testing.TB, d time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(d)
	for wait := time.Millisecond; !cond(); wait = min(2*wait, 50*time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: "+msg, append([]any{d}, args...)...)
		}
		time.Sleep(wait)
	}
}
