package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/xftp/xftp/storage"
)

// Config says where the bucket is and how to reach it.
type Config struct {
	// Endpoint is host[:port], without a scheme.
	Endpoint string
	// Endpoints are more host[:port]s of the same service (the nodes of
	// a distributed MinIO, say), used in turn: a request that finds one
	// unreachable goes to the next, and an endpoint that failed is left
	// out for endpointRest unless no other answers. With a balancer in
	// front of the nodes, name the balancer alone.
	Endpoints []string
	Bucket    string
	Region    string // empty: ask the service
	AccessKey string
	SecretKey string
	UseTLS    bool
	// PathStyle addresses the bucket as endpoint/bucket rather than
	// bucket.endpoint; most self-hosted services need it.
	PathStyle bool
	// CreateBucket creates a missing bucket at Open instead of failing.
	CreateBucket bool
	// Prefix is put before every object name, so that one bucket can hold
	// several stores (or other data). It may end in "/".
	Prefix string
}

// maxRetries bounds minio-go's retries of a failed request (its default is
// 10 with back-off, several seconds against a dead endpoint); the caller
// learns sooner that the store is unavailable. Bodies streamed by Put are
// never retried: they cannot be rewound.
const maxRetries = 3

// endpointRest is how long an endpoint that failed is left out.
const endpointRest = 10 * time.Second

// Store is a storage.Store on an S3 bucket.
type Store struct {
	client    *minio.Client // of the endpoint that answered at Open (tests reach the bucket with it)
	bucket    string
	prefix    string
	endpoint  string // the first endpoint (for messages)
	endpoints []*endpoint
	next      atomic.Uint32
}

// endpoint is one address of the service.
type endpoint struct {
	name      string
	client    *minio.Client
	downUntil atomic.Int64 // unix ns; 0: up
}

func (e *endpoint) up(now time.Time) bool { return e.downUntil.Load() <= now.UnixNano() }

// order returns the endpoints to try for one request: those up first, in
// turn, then those resting (a request never fails for want of trying).
func (s *Store) order() []*endpoint {
	if len(s.endpoints) == 1 {
		return s.endpoints
	}
	n := len(s.endpoints)
	start := int(s.next.Add(1)) % n
	now := time.Now()
	out := make([]*endpoint, 0, n)
	for pass := range 2 {
		for i := range n {
			e := s.endpoints[(start+i)%n]
			if e.up(now) == (pass == 0) {
				out = append(out, e)
			}
		}
	}
	return out
}

// try runs op on endpoints in order until one answers other than
// unavailable; each unavailable one rests. It returns op's last error.
func (s *Store) try(op func(e *endpoint) error) error {
	var err error
	for _, e := range s.order() {
		if err = op(e); err == nil || !errors.Is(s.translate(e, err), storage.ErrUnavailable) {
			if err == nil {
				e.downUntil.Store(0)
			}
			return err
		}
		if len(s.endpoints) > 1 {
			e.downUntil.Store(time.Now().Add(endpointRest).UnixNano())
		}
	}
	return err
}

var _ storage.Store = (*Store)(nil)

// Open connects to the bucket cfg names and checks at once that the
// credentials are accepted and that the bucket exists (creating it if
// cfg.CreateBucket), so a misconfigured server fails at start-up rather than
// on its first upload.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	names := cfg.Endpoints
	if cfg.Endpoint != "" {
		names = append([]string{cfg.Endpoint}, names...)
	}
	if len(names) == 0 || cfg.Bucket == "" {
		return nil, errors.New("s3 store: endpoint and bucket must be set")
	}
	cfg.Endpoint = names[0]
	lookup := minio.BucketLookupAuto
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	s := &Store{bucket: cfg.Bucket, prefix: cfg.Prefix, endpoint: cfg.Endpoint}
	for _, name := range names {
		client, err := minio.New(name, &minio.Options{
			Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
			Secure:       cfg.UseTLS,
			Region:       cfg.Region,
			BucketLookup: lookup,
			// With DisableContentSha256 (see putOptions) a body is sent
			// unsigned; trailing headers let minio-go append a CRC32C of
			// it, which the service checks, at a fraction of SHA-256's
			// cost.
			TrailingHeaders: true,
			MaxRetries:      maxRetries,
		})
		if err != nil {
			return nil, fmt.Errorf("s3 store: endpoint %s: %w", name, err)
		}
		s.endpoints = append(s.endpoints, &endpoint{name: name, client: client})
	}
	s.client = s.endpoints[0].client
	var ok bool
	var first *endpoint
	err := s.try(func(e *endpoint) (err error) {
		first = e
		ok, err = e.client.BucketExists(ctx, cfg.Bucket)
		return err
	})
	if err != nil {
		cfg.Endpoint = first.name
		return nil, s.startupError(cfg, err)
	}
	s.client = first.client
	if ok {
		return s, nil
	}
	if !cfg.CreateBucket {
		return nil, fmt.Errorf("s3 store: bucket %s does not exist at %s (create it, or enable bucket creation)", cfg.Bucket, cfg.Endpoint)
	}
	err = s.try(func(e *endpoint) error {
		first = e
		return e.client.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region})
	})
	if err != nil && minio.ToErrorResponse(err).Code != minio.BucketAlreadyOwnedByYou { // another replica won the race
		return nil, fmt.Errorf("s3 store: creating bucket %s at %s: %w", cfg.Bucket, first.name, s.translate(first, err))
	}
	return s, nil
}

// startupError explains why the first request failed. It names the access
// key, which is an identifier, never the secret key.
func (s *Store) startupError(cfg Config, err error) error {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		switch resp.Code {
		case minio.InvalidAccessKeyID, minio.SignatureDoesNotMatch, "InvalidToken", "ExpiredToken", minio.AccessDenied:
			return fmt.Errorf("s3 store: %s refused the credentials (access key %q and its secret key) for bucket %s: %s; check the access key and secret key and the bucket's policy",
				cfg.Endpoint, cfg.AccessKey, cfg.Bucket, resp.Code)
		}
	}
	return fmt.Errorf("s3 store: checking bucket %s at %s: %w", cfg.Bucket, cfg.Endpoint, s.translate(s.endpoints[0], err))
}

// Ping checks that the bucket answers at some endpoint; it is the
// readiness probe, and the health check of the endpoints: each is asked,
// and one that does not answer rests (endpointRest).
func (s *Store) Ping(ctx context.Context) error {
	if len(s.endpoints) > 1 {
		var wg sync.WaitGroup
		for _, e := range s.endpoints {
			wg.Go(func() {
				if _, err := e.client.BucketExists(ctx, s.bucket); err != nil && errors.Is(s.translate(e, err), storage.ErrUnavailable) {
					e.downUntil.Store(time.Now().Add(endpointRest).UnixNano())
				} else if err == nil {
					e.downUntil.Store(0)
				}
			})
		}
		wg.Wait()
	}
	var ok bool
	var at *endpoint
	err := s.try(func(e *endpoint) (err error) {
		at = e
		ok, err = e.client.BucketExists(ctx, s.bucket)
		return err
	})
	if err != nil {
		return s.wrap(at, "ping", err)
	}
	if !ok {
		return fmt.Errorf("s3 store: bucket %s does not exist at %s: %w", s.bucket, at.name, storage.ErrUnavailable)
	}
	return nil
}

func (s *Store) object(key string) (string, bool) {
	if !storage.ValidName(key) {
		return "", false
	}
	return s.prefix + key, true
}

// putOptions makes every Put one streamed PUT request:
//   - DisableMultipart: a chunk (4 MiB and a little) goes as a single part
//     of known length; S3 commits it only when all of it has arrived, which
//     is what makes Put atomic, and no multipart upload is left behind.
//   - SendContentMd5 false: minio-go would read a non-seekable body into
//     memory whole to hash it first.
//   - DisableContentSha256: no SHA-256 over every byte for the signature;
//     the body's integrity is covered by the CRC32C trailer (see Open), by
//     TLS where used, and end to end by the chunk digest clients check.
var putOptions = minio.PutObjectOptions{
	ContentType:          "application/octet-stream",
	DisableMultipart:     true,
	SendContentMd5:       false,
	DisableContentSha256: true,
}

// Put implements storage.Store.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	name, ok := s.object(key)
	if !ok {
		return fmt.Errorf("s3 store: invalid key %q", key)
	}
	if size < 0 {
		return fmt.Errorf("s3 store: negative size %d", size)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3 store: put: %w", err)
	}
	// A body streams once: one endpoint, the first in turn that is up.
	e := s.order()[0]
	body := &bodyReader{ctx: ctx, r: io.LimitReader(r, size), left: size}
	_, err := e.client.PutObject(ctx, s.bucket, name, body, size, putOptions)
	if berr := body.finish(); berr != nil {
		// The request failed because of the body, not the service.
		return fmt.Errorf("s3 store: reading body: %w", berr)
	}
	if err != nil && len(s.endpoints) > 1 && errors.Is(s.translate(e, err), storage.ErrUnavailable) {
		e.downUntil.Store(time.Now().Add(endpointRest).UnixNano())
	}
	return s.wrap(e, "put", err)
}

var errPutReturned = errors.New("read after Put returned")

// bodyReader feeds a body to PutObject. It hides any Seek or ReadAt of the
// caller's reader (minio-go would otherwise re-read it on retries, or read
// it twice), stops when ctx ends, turns a short body into
// io.ErrUnexpectedEOF, and remembers the first error, so that Put can tell
// a failing body from a failing service. net/http may go on reading a
// request body after the request has failed; finish makes sure r is not
// read once Put has returned.
type bodyReader struct {
	ctx  context.Context
	mu   sync.Mutex
	r    io.Reader
	left int64
	err  error
	done bool
}

func (b *bodyReader) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.done:
		return 0, errPutReturned
	case b.err != nil:
		return 0, b.err
	}
	if err := b.ctx.Err(); err != nil {
		b.err = err
		return 0, err
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	switch {
	case err == io.EOF && b.left > 0:
		b.err = fmt.Errorf("body is %d bytes short: %w", b.left, io.ErrUnexpectedEOF)
		return n, b.err
	case err != nil && err != io.EOF:
		b.err = err
	}
	return n, err
}

// finish waits for a Read in progress, stops later ones and returns the
// body's error, if any.
func (b *bodyReader) finish() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done = true
	return b.err
}

// Get implements storage.Store. The body is read within ctx.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	name, ok := s.object(key)
	if !ok {
		return nil, 0, storage.ErrNotFound
	}
	var obj *minio.Object
	var info minio.ObjectInfo
	var at *endpoint
	err := s.try(func(e *endpoint) (err error) {
		at = e
		if obj, err = e.client.GetObject(ctx, s.bucket, name, minio.GetObjectOptions{}); err != nil {
			return err
		}
		// GetObject sends nothing yet; Stat sends the GET (whose
		// response then feeds the reads), so a missing object is
		// reported here.
		if info, err = obj.Stat(); err != nil {
			obj.Close()
		}
		return err
	})
	if err != nil {
		return nil, 0, s.wrap(at, "get", err)
	}
	return obj, info.Size, nil
}

// Stat implements storage.Store.
func (s *Store) Stat(ctx context.Context, key string) (int64, error) {
	name, ok := s.object(key)
	if !ok {
		return 0, storage.ErrNotFound
	}
	var info minio.ObjectInfo
	var at *endpoint
	err := s.try(func(e *endpoint) (err error) {
		at = e
		info, err = e.client.StatObject(ctx, s.bucket, name, minio.StatObjectOptions{})
		return err
	})
	if err != nil {
		return 0, s.wrap(at, "stat", err)
	}
	return info.Size, nil
}

// Delete implements storage.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	name, ok := s.object(key)
	if !ok {
		return nil
	}
	var at *endpoint
	err := s.try(func(e *endpoint) error {
		at = e
		return e.client.RemoveObject(ctx, s.bucket, name, minio.RemoveObjectOptions{})
	})
	err = s.wrap(at, "delete", err)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	return err
}

// List implements storage.Store. Objects under the prefix whose names are
// not keys (left by someone else) are skipped.
func (s *Store) List(ctx context.Context, fn func(key string) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts := minio.ListObjectsOptions{Prefix: s.prefix, Recursive: true}
	e := s.order()[0]
	for obj := range e.client.ListObjectsIter(ctx, s.bucket, opts) {
		if obj.Err != nil {
			return s.wrap(e, "list", obj.Err)
		}
		key, ok := strings.CutPrefix(obj.Key, s.prefix)
		if !ok || !storage.ValidName(key) {
			continue
		}
		if err := fn(key); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// wrap translates err and names the operation.
func (s *Store) wrap(e *endpoint, op string, err error) error {
	if err == nil {
		return nil
	}
	err = s.translate(e, err)
	if errors.Is(err, storage.ErrNotFound) {
		return err
	}
	return fmt.Errorf("s3 store: %s: %w", op, err)
}

// translate maps minio-go's errors onto the storage sentinels.
func (s *Store) translate(e *endpoint, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		switch {
		case resp.Code == minio.NoSuchKey:
			return storage.ErrNotFound
		case resp.Code == minio.NoSuchBucket:
			return fmt.Errorf("bucket %s does not exist at %s: %w", s.bucket, e.name, storage.ErrUnavailable)
		case resp.StatusCode >= http.StatusInternalServerError,
			resp.StatusCode == http.StatusTooManyRequests,
			resp.Code == "SlowDown", resp.Code == "RequestTimeout":
			return fmt.Errorf("%w: %s: %w", storage.ErrUnavailable, e.name, err)
		}
		return err
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
		return fmt.Errorf("%w: %s: %w", storage.ErrUnavailable, e.name, err)
	}
	return err
}
