package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	goredis "github.com/redis/go-redis/v9"
)

// s3Services are the MinIO and Redis the S3 cells use: from XFTP_TEST_S3_*
// and XFTP_TEST_REDIS if set, else started here.
type s3Services struct {
	endpoint, accessKey, secretKey, redisAddr string
	minio, redis                              *child // nil when given from the environment
}

func (s *s3Services) stop() {
	s.minio.stop()
	s.redis.stop()
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func startS3Services(ctx context.Context, cfg *config, dir string) (*s3Services, error) {
	s := &s3Services{
		endpoint: os.Getenv("XFTP_TEST_S3_ENDPOINT"), accessKey: os.Getenv("XFTP_TEST_S3_ACCESS_KEY"),
		secretKey: os.Getenv("XFTP_TEST_S3_SECRET_KEY"), redisAddr: os.Getenv("XFTP_TEST_REDIS"),
	}
	if s.endpoint != "" && s.redisAddr != "" {
		return s, nil
	}
	redisBin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errors.New("no redis-server on PATH and XFTP_TEST_REDIS not set")
	}
	minioBin := cfg.MinioBin
	if minioBin == "" {
		home, _ := os.UserHomeDir()
		m, _ := filepath.Glob(filepath.Join(home, ".cache", "xftp", "minio-*", "minio"))
		if len(m) == 0 {
			return nil, errors.New("no MinIO binary under ~/.cache/xftp (see SERVICES.md) and XFTP_TEST_S3_ENDPOINT not set")
		}
		minioBin = m[len(m)-1]
	}
	rp, err := freePort()
	if err != nil {
		return nil, err
	}
	s.redisAddr = "127.0.0.1:" + strconv.Itoa(rp)
	s.redis, _, err = startChild("redis", dir, exec.Command(redisBin, "--port", strconv.Itoa(rp), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no"), false)
	if err != nil {
		return nil, err
	}
	mp, err1 := freePort()
	cp, err2 := freePort()
	if err := errors.Join(err1, err2); err != nil {
		s.stop()
		return nil, err
	}
	s.endpoint = "127.0.0.1:" + strconv.Itoa(mp)
	s.accessKey, s.secretKey = "xftpbench", randHex(16)
	home := filepath.Join(dir, "minio-home")
	os.MkdirAll(home, 0o700)
	mc := exec.Command(minioBin, "server", filepath.Join(dir, "minio-data"), "--address", s.endpoint, "--console-address", "127.0.0.1:"+strconv.Itoa(cp), "--quiet")
	mc.Env = append(os.Environ(), "HOME="+home, "MINIO_ROOT_USER="+s.accessKey, "MINIO_ROOT_PASSWORD="+s.secretKey, "MINIO_BROWSER=off")
	if s.minio, _, err = startChild("minio", dir, mc, false); err != nil {
		s.stop()
		return nil, err
	}
	if err := waitReady(ctx, s); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

func waitReady(ctx context.Context, s *s3Services) error {
	rc := goredis.NewClient(&goredis.Options{Addr: s.redisAddr})
	defer rc.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		redisOK := rc.Ping(ctx).Err() == nil
		resp, err := http.Get("http://" + s.endpoint + "/minio/health/ready")
		minioOK := err == nil && resp.StatusCode == http.StatusOK
		if resp != nil {
			resp.Body.Close()
		}
		if redisOK && minioOK {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("MinIO or Redis not ready after 30s (redis %v, minio %v): %s", redisOK, minioOK, s.minio.tail())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// putOptions are those of storage/s3: one streamed PUT of known length,
// no MD5, no SHA-256 of the payload (a CRC32C trailer instead).
var putOptions = minio.PutObjectOptions{
	ContentType: "application/octet-stream", DisableMultipart: true, SendContentMd5: false, DisableContentSha256: true,
}

func s3Section(ctx context.Context, cfg *config, dir string, spec loadSpec, payloads map[int64]payload, logf func(string, ...any)) ([]row, error) {
	svc, err := startS3Services(ctx, cfg, dir)
	if err != nil {
		return nil, err
	}
	defer svc.stop()
	mc, err := minio.New(svc.endpoint, &minio.Options{
		Creds: credentials.NewStaticV4(svc.accessKey, svc.secretKey, ""), BucketLookup: minio.BucketLookupPath, TrailingHeaders: true,
	})
	if err != nil {
		return nil, err
	}
	bucket := "xftp-bench-" + randHex(4)
	if err := mc.MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: "us-east-1"}); err != nil {
		return nil, fmt.Errorf("creating bucket at %s: %w", svc.endpoint, err)
	}
	defer func() {
		removePrefix(context.WithoutCancel(ctx), mc, bucket, "")
		mc.RemoveBucket(context.WithoutCancel(ctx), bucket)
	}()
	minioPID := 0
	if svc.minio != nil {
		minioPID = svc.minio.pid()
	}
	redisPrefix := "xftpbench-" + randHex(4) + ":"
	defer removeRedisKeys(context.WithoutCancel(ctx), svc.redisAddr, redisPrefix)
	var rows []row
	for _, size := range cfg.Sizes {
		p := payloads[size]
		for _, op := range []string{"upload", "download"} {
			for _, n := range cfg.S3Conc {
				if err := ctx.Err(); err != nil {
					return rows, err
				}
				cell := fmt.Sprintf("%s-%d-%d/", op, size, n)
				d := directCell(ctx, mc, bucket, "direct/"+cell, spec, op, p, n, minioPID)
				d.Note = "CPU/RSS: minio"
				if minioPID == 0 {
					d.Note = ""
				}
				b := backendConfig{
					yaml: fmt.Sprintf(`storage:
  backend: s3
  s3:
    endpoint: %s
    bucket: %s
    region: us-east-1
    access_key: %s
    use_tls: false
    path_style: true
    create_bucket: false
    prefix: xftpd/%s
records:
  backend: redis
redis:
  address: %s
  prefix: "%s"
`, svc.endpoint, bucket, svc.accessKey, cell, svc.redisAddr, redisPrefix),
					env: []string{"XFTPD_S3_SECRET_KEY=" + svc.secretKey},
				}
				x := xftpdCell(ctx, cfg, dir, spec, op, p, n, b, "xftpd-s3")
				x.Note = "CPU/RSS: xftpd"
				relate(&x, d, "minio-direct")
				rows = append(rows, d, x)
				logf("%s", shortLine(d))
				logf("%s", shortLine(x))
				removePrefix(ctx, mc, bucket, "")
			}
		}
	}
	return rows, nil
}

func directCell(ctx context.Context, mc *minio.Client, bucket, prefix string, spec loadSpec, op string, p payload, n, pid int) row {
	size := int64(len(p.data))
	ops := make([]opFunc, n)
	switch op {
	case "upload":
		for i := range ops {
			ops[i] = func(ctx context.Context) (int64, error) {
				// A LimitedReader hides bytes.Reader's Seek, as xftpd's
				// request body is not seekable either.
				_, err := mc.PutObject(ctx, bucket, prefix+randHex(12), io.LimitReader(bytes.NewReader(p.data), size), size, putOptions)
				return size, err
			}
		}
	case "download":
		names := make([]string, min(n, 16))
		for i := range names {
			names[i] = prefix + randHex(12)
			if _, err := mc.PutObject(ctx, bucket, names[i], bytes.NewReader(p.data), size, putOptions); err != nil {
				return newRow("minio-direct", op, size, n, loadResult{}, err)
			}
		}
		for i := range ops {
			name := names[i%len(names)]
			buf := make([]byte, copyBufSize)
			ops[i] = func(ctx context.Context) (int64, error) {
				obj, err := mc.GetObject(ctx, bucket, name, minio.GetObjectOptions{})
				if err != nil {
					return 0, err
				}
				defer obj.Close()
				m, err := drain(obj, buf)
				if err == nil && m != size {
					err = fmt.Errorf("got %d bytes, want %d", m, size)
				}
				return m, err
			}
		}
	}
	r, err := runLoad(ctx, spec, pid, ops)
	return newRow("minio-direct", op, size, n, r, err)
}

func removePrefix(ctx context.Context, mc *minio.Client, bucket, prefix string) {
	objs := mc.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true})
	for range mc.RemoveObjects(ctx, bucket, objs, minio.RemoveObjectsOptions{}) {
	}
}

func removeRedisKeys(ctx context.Context, addr, prefix string) {
	rc := goredis.NewClient(&goredis.Options{Addr: addr})
	defer rc.Close()
	it := rc.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for it.Next(ctx) {
		rc.Del(ctx, it.Val())
	}
}
