package client

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/api/httpclient"
	"github.com/xftp/xftp/internal/testrelay"
	"github.com/xftp/xftp/server"
)

func TestCheckPasses(t *testing.T) {
	r := testrelay.Start(t, nil)
	steps := Check(context.Background(), r.Address.String(), httpclient.ClientOptions{})
	last := steps[len(steps)-1]
	if last.Name != "delete chunk (4 MiB)" || last.Err != nil {
		t.Fatalf("check failed: %+v", steps)
	}
	if u, _ := r.Service.Usage(context.Background()); u.Chunks != 0 {
		t.Fatal("check left its chunk behind")
	}
}

func TestCheckNamesTheCause(t *testing.T) {
	cfg := server.DefaultConfig()
	cfg.Password = "secret"
	pw := testrelay.Start(t, &cfg)
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()
	wrongFP := pw.Address
	wrongFP.Fingerprint[0] ^= 1
	noPW := pw.Address
	noPW.Password = ""
	noNew := server.DefaultConfig()
	noNew.AllowNew = false
	prohibited := testrelay.Start(t, &noNew)
	cases := []struct {
		addr, step, hint string
	}{
		{"http://example.com", "parse address", "xftp://"},
		{api.Address{Fingerprint: pw.Address.Fingerprint, Host: closedAddr}.String(), "connect and verify identity", "nothing listens"},
		{wrongFP.String(), "connect and verify identity", "fingerprint"},
		{noPW.String(), "create chunk", "password"},
		{prohibited.Address.String(), "create chunk", "new_chunks"},
	}
	// A server (not xftpd, which refuses this) whose sizes lack some that
	// clients use fails at "chunk sizes", before any upload.
	small := server.DefaultConfig()
	small.ChunkSizes = []int64{64 << 10, 256 << 10}
	smallSizes := testrelay.Start(t, &small)
	cases = append(cases, struct{ addr, step, hint string }{smallSizes.Address.String(), "chunk sizes", "chunk_sizes: [64KiB, 256KiB, 1MiB, 4MiB]"})
	for _, tc := range cases {
		steps := Check(context.Background(), tc.addr, httpclient.ClientOptions{})
		last := steps[len(steps)-1]
		if last.Err == nil || !strings.HasPrefix(last.Name, tc.step) || !strings.Contains(last.Hint, tc.hint) {
			t.Errorf("%s: failed at %q with hint %q (err %v); want step %q, hint containing %q", tc.addr, last.Name, last.Hint, last.Err, tc.step, tc.hint)
		}
	}
}
