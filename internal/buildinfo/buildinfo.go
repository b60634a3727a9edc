package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// version is set at link time:
//
//	go build -ldflags "-X github.com/xftp/xftp/internal/buildinfo.version=v1.2.3"
var version string

// Version returns the release version (or "devel"), the source revision
// when the build recorded one, and the Go version, e.g.
// "v1.2.3 (rev 1a2b3c4d5e6f, go1.26.8)".
func Version() string {
	v := version
	var extra []string
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		var rev, dirty string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "+modified"
				}
			}
		}
		if rev != "" {
			extra = append(extra, "rev "+rev[:min(12, len(rev))]+dirty)
		}
	}
	if v == "" {
		v = "devel"
	}
	extra = append(extra, runtime.Version())
	return v + " (" + strings.Join(extra, ", ") + ")"
}
