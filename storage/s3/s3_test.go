package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/xftp/xftp/internal/testenv"
	"github.com/xftp/xftp/storage"
	"github.com/xftp/xftp/storage/storagetest"
)

// testConfig returns a Config for the S3 service named by XFTP_TEST_S3_*.
// Without it the test is skipped, or fails under CI=true.
func testConfig(t *testing.T) Config {
	t.Helper()
	m := testenv.MinIO(t)
	return Config{Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey, PathStyle: true}
}

func randomName(prefix string) string {
	b := make([]byte, 8)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// openTemp opens cfg with a fresh bucket (unless cfg.Bucket is set) and
// removes what the test stored when it ends.
func openTemp(t *testing.T, cfg Config) *Store {
	t.Helper()
	if cfg.Bucket == "" {
		cfg.Bucket = randomName("xftp-test-")
	}
	cfg.CreateBucket = true
	s, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeBucket(s.client, cfg.Bucket) })
	return s
}

func removeBucket(c *minio.Client, bucket string) {
	if c == nil {
		return
	}
	ctx := context.Background()
	for obj := range c.ListObjectsIter(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err == nil {
			c.RemoveObject(ctx, bucket, obj.Key, minio.RemoveObjectOptions{})
		}
	}
	c.RemoveBucket(ctx, bucket)
}

func TestContract(t *testing.T) {
	cfg := testConfig(t)
	t.Run("FreshBucket", func(t *testing.T) {
		storagetest.TestStore(t, func(t *testing.T) storage.Store { return openTemp(t, cfg) })
	})
	t.Run("SharedBucketWithPrefix", func(t *testing.T) {
		shared := openTemp(t, cfg)
		// An object outside every prefix must not show up in List.
		if _, err := shared.client.PutObject(t.Context(), shared.bucket, "other/"+storage.NewKey(),
			bytes.NewReader([]byte("x")), 1, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		storagetest.TestStore(t, func(t *testing.T) storage.Store {
			c := cfg
			c.Bucket, c.Prefix = shared.bucket, randomName("p")+"/"
			s, err := Open(t.Context(), c)
			if err != nil {
				t.Fatal(err)
			}
			return s
		})
	})
}

func TestOpenMissingBucket(t *testing.T) {
	cfg := testConfig(t)
	cfg.Bucket = randomName("xftp-missing-")
	_, err := Open(t.Context(), cfg)
	if err == nil || !strings.Contains(err.Error(), "bucket "+cfg.Bucket+" does not exist") {
		t.Fatalf("Open of a missing bucket: %v", err)
	}
	// CreateBucket makes it, and a second Open finds it.
	s := openTemp(t, cfg)
	if err := s.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(t.Context(), cfg); err != nil {
		t.Fatalf("Open after creation: %v", err)
	}
}

func TestOpenWrongCredentials(t *testing.T) {
	good := testConfig(t)
	s := openTemp(t, good)
	for _, tc := range []struct{ name, access, secret string }{
		{"WrongSecret", good.AccessKey, "not-the-secret-" + good.SecretKey},
		{"UnknownAccessKey", "nosuchuser", "not-the-secret-" + good.SecretKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			cfg.Bucket, cfg.AccessKey, cfg.SecretKey = s.bucket, tc.access, tc.secret
			_, err := Open(t.Context(), cfg)
			if err == nil {
				t.Fatal("Open with wrong credentials succeeded")
			}
			msg := err.Error()
			if !strings.Contains(msg, "refused the credentials") || !strings.Contains(msg, cfg.Endpoint) ||
				!strings.Contains(msg, tc.access) {
				t.Fatalf("unclear error: %v", err)
			}
			if strings.Contains(msg, tc.secret) {
				t.Fatalf("error reveals the secret key: %v", err)
			}
		})
	}
}

func TestUnreachableIsUnavailable(t *testing.T) {
	testConfig(t) // only under the same conditions as the other tests
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	_, err = Open(ctx, Config{Endpoint: addr, Bucket: "xftp", AccessKey: "a", SecretKey: "b", PathStyle: true})
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("Open of a closed port: %v, want ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), addr) {
		t.Fatalf("error does not name the endpoint: %v", err)
	}
}

func TestServiceGoesAway(t *testing.T) {
	cfg := testConfig(t)
	s := openTemp(t, cfg)
	// Same bucket, reached through a port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, err := minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""), BucketLookup: minio.BucketLookupPath, MaxRetries: 1, Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	gone := &Store{client: c, bucket: s.bucket, prefix: s.prefix, endpoint: addr, endpoints: []*endpoint{{name: addr, client: c}}}
	ctx := t.Context()
	key := storage.NewKey()
	for name, err := range map[string]error{
		"Put":    gone.Put(ctx, key, bytes.NewReader([]byte("abc")), 3),
		"Get":    func() error { _, _, err := gone.Get(ctx, key); return err }(),
		"Stat":   func() error { _, err := gone.Stat(ctx, key); return err }(),
		"Delete": gone.Delete(ctx, key),
		"List":   gone.List(ctx, func(string) error { return nil }),
		"Ping":   gone.Ping(ctx),
	} {
		if !errors.Is(err, storage.ErrUnavailable) {
			t.Errorf("%s: %v, want ErrUnavailable", name, err)
		}
	}
}

// TestEndpoints: with a dead endpoint listed first, Open and every
// operation go to the live one, and the dead one rests.
func TestEndpoints(t *testing.T) {
	cfg := testConfig(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	cfg.Endpoints = []string{cfg.Endpoint}
	cfg.Endpoint = dead
	s := openTemp(t, cfg)
	ctx := t.Context()
	for range 4 { // each request starts at another endpoint
		key := storage.NewKey()
		if err := s.Put(ctx, key, bytes.NewReader([]byte("abc")), 3); err != nil {
			t.Fatalf("Put: %v", err)
		}
		if n, err := s.Stat(ctx, key); err != nil || n != 3 {
			t.Fatalf("Stat: %d, %v", n, err)
		}
		if err := s.Delete(ctx, key); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping with one endpoint live: %v", err)
	}
	if s.endpoints[0].up(time.Now()) || !s.endpoints[1].up(time.Now()) {
		t.Fatal("the dead endpoint is not resting, or the live one is")
	}
}

// versityConfig returns a Config for the versitygw of
// XFTP_TEST_VERSITYGW_*: a second S3 implementation (its posix backend).
func versityConfig(t *testing.T) Config {
	t.Helper()
	v := testenv.VersityGW(t)
	return Config{Endpoint: v.Endpoint, AccessKey: v.AccessKey, SecretKey: v.SecretKey, PathStyle: true, Region: "us-east-1"}
}

// TestVersityGW runs the store contract against versitygw. Its writes are
// not atomic (a PUT cut off midway is stored truncated), so the contract
// runs relaxed (storagetest.StoreOptions.NonAtomic); the relay does not
// need atomic writes (each attempt writes its own name). The subtest
// CutPut records what versitygw does with a cut-off PUT.
func TestVersityGW(t *testing.T) {
	cfg := versityConfig(t)
	storagetest.TestStoreWith(t, func(t *testing.T) storage.Store { return openTemp(t, cfg) },
		storagetest.StoreOptions{NonAtomic: true})
	t.Run("CutPut", func(t *testing.T) {
		s := openTemp(t, cfg)
		key := storage.NewKey()
		r := io.MultiReader(bytes.NewReader(make([]byte, 70<<10)), iotest.ErrReader(errors.New("cut")))
		if err := s.Put(t.Context(), key, r, 128<<10); err == nil {
			t.Fatal("a cut-off Put succeeded")
		}
		n, err := s.Stat(t.Context(), key)
		t.Logf("after a PUT cut off at 70 of 128 KiB: Stat = %d bytes, %v", n, err)
	})
}
