package buildinfo

import (
	"runtime"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	v := Version()
	if !strings.HasPrefix(v, "devel (") || !strings.Contains(v, runtime.Version()) {
		t.Fatalf("Version() = %q, want devel with the Go version", v)
	}
	version = "v1.2.3"
	defer func() { version = "" }()
	if v := Version(); !strings.HasPrefix(v, "v1.2.3 (") {
		t.Fatalf("Version() with a link-time version = %q", v)
	}
}
