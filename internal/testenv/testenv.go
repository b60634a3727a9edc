// Package testenv gives tests the real services and tools that
// scripts/test starts or installs, named by XFTP_TEST_* environment
// variables: Redis (standalone and cluster), the redis-server and MinIO
// binaries, S3 endpoints. A test that needs a missing one is skipped, except
// under CI=true, where it fails: a skipped backend would hide a broken one.
//
// It also holds the one way tests wait: Eventually polls a condition up to a
// deadline, instead of sleeping a fixed time.
package testenv

import (
	"os"
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
		msg := name + " not set; run scripts/test, which starts the services the tests use"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg) // not under CI: the check above fails there
	}
	return v
}

// Redis is the address (host:port) of the standalone Redis of
// XFTP_TEST_REDIS.
func Redis(t testing.TB) string { return Need(t, "XFTP_TEST_REDIS") }

// RedisCluster is the node addresses of the Redis Cluster of
// XFTP_TEST_REDIS_CLUSTER (comma-separated).
func RedisCluster(t testing.TB) []string {
	return strings.Split(Need(t, "XFTP_TEST_REDIS_CLUSTER"), ",")
}

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
