package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// badDeps are packages the client must never link: the relay, its
// storage and their libraries. A client that links them has a server
// dependency hiding behind a shared package (tailscale guards derp's
// client the same way).
var badDeps = []string{
	"github.com/xftp/xftp/server",
	"github.com/xftp/xftp/storage",
	"github.com/xftp/xftp/api/httpserver",
	"github.com/xftp/xftp/internal/proxy",
	"github.com/xftp/xftp/internal/metrics",
	"github.com/redis/go-redis",
	"go.etcd.io/bbolt",
	"github.com/go-chi/chi",
	"github.com/minio/minio-go",
	"github.com/prometheus/client_golang",
}

func TestClientLinksNoServerPackages(t *testing.T) {
	for _, goos := range []string{"linux", "darwin", "windows"} {
		cmd := exec.Command("go", "list", "-deps", ".")
		cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH=amd64", "CGO_ENABLED=0")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list -deps (GOOS=%s): %v", goos, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, bad := range badDeps {
				if dep == bad || strings.HasPrefix(dep, bad+"/") {
					t.Errorf("GOOS=%s: cmd/xftp links %s", goos, dep)
				}
			}
		}
	}
}
