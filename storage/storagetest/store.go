package storagetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"sort"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/xftp/xftp/storage"
)

// StoreOptions relax the contract for stores that cannot keep all of it.
type StoreOptions struct {
	// NonAtomic: a Put cut off midway may leave a truncated object (some
	// S3 implementations, such as versitygw's posix backend, store what
	// arrived). Put must still report the failure. The relay never
	// relies on atomic puts: each upload attempt writes its own name
	// (storage.NewBodyName) and the record points at the finished one.
	NonAtomic bool
}

// TestStore runs the storage.Store contract against the store that open
// returns. Each call to open must return an empty store.
func TestStore(t *testing.T, open func(t *testing.T) storage.Store) {
	TestStoreWith(t, open, StoreOptions{})
}

// TestStoreWith is TestStore with the contract relaxed by o.
func TestStoreWith(t *testing.T, open func(t *testing.T) storage.Store, o StoreOptions) {
	ctx := context.Background()
	assertAbsent := func(t *testing.T, s storage.Store, key string) {
		t.Helper()
		if !o.NonAtomic {
			assertAbsent(t, s, key)
		}
	}
	body := func(n int) []byte {
		b := make([]byte, n)
		rand.Read(b)
		return b
	}
	t.Run("PutGetStatDelete", func(t *testing.T) {
		s := open(t)
		for _, n := range []int{1, 64 << 10, 4<<20 + 7} {
			key, want := storage.NewKey(), body(n)
			if err := s.Put(ctx, key, bytes.NewReader(want), int64(n)); err != nil {
				t.Fatalf("Put %d bytes: %v", n, err)
			}
			size, err := s.Stat(ctx, key)
			if err != nil || size != int64(n) {
				t.Fatalf("Stat = %d, %v; want %d", size, err, n)
			}
			rc, size, err := s.Get(ctx, key)
			if err != nil || size != int64(n) {
				t.Fatalf("Get = %d, %v; want %d", size, err, n)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("Get body differs (err %v)", err)
			}
			if err := s.Delete(ctx, key); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Stat(ctx, key); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("Stat after Delete: %v, want ErrNotFound", err)
			}
			if _, _, err := s.Get(ctx, key); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
			}
		}
	})
	t.Run("MissingKey", func(t *testing.T) {
		s := open(t)
		key := storage.NewKey()
		if _, _, err := s.Get(ctx, key); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Get: %v", err)
		}
		if err := s.Delete(ctx, key); err != nil {
			t.Fatalf("Delete of missing key: %v", err)
		}
	})
	t.Run("ShortBodyStoresNothing", func(t *testing.T) {
		s := open(t)
		key := storage.NewKey()
		if err := s.Put(ctx, key, bytes.NewReader(body(100)), 200); err == nil {
			t.Fatal("Put of a short body succeeded")
		}
		assertAbsent(t, s, key)
	})
	t.Run("FailingReaderStoresNothing", func(t *testing.T) {
		s := open(t)
		key := storage.NewKey()
		r := io.MultiReader(bytes.NewReader(body(70<<10)), iotest.ErrReader(errors.New("boom")))
		if err := s.Put(ctx, key, r, 128<<10); err == nil {
			t.Fatal("Put with a failing reader succeeded")
		}
		assertAbsent(t, s, key)
	})
	t.Run("FailedPutKeepsOldBody", func(t *testing.T) {
		s := open(t)
		key, want := storage.NewKey(), body(1000)
		if err := s.Put(ctx, key, bytes.NewReader(want), 1000); err != nil {
			t.Fatal(err)
		}
		if o.NonAtomic {
			// What a non-atomic store must keep: another name's body.
			if err := s.Put(ctx, storage.NewBodyName(key), iotest.ErrReader(errors.New("boom")), 1000); err == nil {
				t.Fatal("Put with a failing reader succeeded")
			}
		} else {
			s.Put(ctx, key, iotest.ErrReader(errors.New("boom")), 1000)
		}
		rc, _, err := s.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, want) {
			t.Fatal("a failed Put changed the stored body")
		}
	})
	t.Run("CanceledContext", func(t *testing.T) {
		s := open(t)
		key := storage.NewKey()
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := s.Put(cctx, key, bytes.NewReader(body(1<<20)), 1<<20); err == nil {
			t.Fatal("Put with a canceled context succeeded")
		}
		assertAbsent(t, s, key)
	})
	t.Run("ListAndConcurrentPuts", func(t *testing.T) {
		s := open(t)
		var want []string
		// Body names (a key and an attempt) are names like keys.
		for range 2 {
			name := storage.NewBodyName(storage.NewKey())
			if err := s.Put(ctx, name, bytes.NewReader(body(10)), 10); err != nil {
				t.Fatalf("Put of a body name: %v", err)
			}
			want = append(want, name)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for range 16 {
			key := storage.NewKey()
			want = append(want, key)
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- s.Put(ctx, key, bytes.NewReader(body(10<<10)), 10<<10)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		var got []string
		if err := s.List(ctx, func(k string) error { got = append(got, k); return nil }); err != nil {
			t.Fatal(err)
		}
		sort.Strings(want)
		sort.Strings(got)
		if len(got) != len(want) {
			t.Fatalf("List returned %d keys, want %d", len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("List: key %d is %q, want %q", i, got[i], want[i])
			}
		}
		stop := errors.New("stop")
		n := 0
		if err := s.List(ctx, func(string) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
			t.Fatalf("List did not stop at fn's error: %v after %d calls", err, n)
		}
	})
}

func assertAbsent(t *testing.T, s storage.Store, key string) {
	t.Helper()
	if _, err := s.Stat(context.Background(), key); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("body visible after failed Put: %v", err)
	}
	n := 0
	s.List(context.Background(), func(string) error { n++; return nil })
	if n != 0 {
		t.Fatalf("failed Put left %d objects", n)
	}
}
