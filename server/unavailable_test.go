package server

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// TestClientHangUpIsNotUnavailable: a backend call cut short because the
// client hung up is not a backend failure (it was logged as an ERROR
// "storage backend unavailable"; issue 20, item 21).
func TestClientHangUpIsNotUnavailable(t *testing.T) {
	gone := unavailable(fmt.Errorf("redis: %w", context.Canceled))
	if errors.Is(gone, ErrUnavailable) || !errors.Is(gone, context.Canceled) {
		t.Fatalf("a canceled call: %v", gone)
	}
	if err := unavailable(errors.New("connection refused")); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("a backend failure: %v", err)
	}
	if err := unavailable(fmt.Errorf("redis: %w", context.DeadlineExceeded)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("a backend timeout: %v", err)
	}
}

func TestPasswordMatches(t *testing.T) {
	for _, c := range []struct {
		got, want string
		ok        bool
	}{{"secret", "secret", true}, {"secreT", "secret", false}, {"", "secret", false}, {"secret-and-more", "secret", false}} {
		if passwordMatches(c.got, c.want) != c.ok {
			t.Errorf("passwordMatches(%q, %q) != %v", c.got, c.want, c.ok)
		}
	}
}
