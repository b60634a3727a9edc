package recv_test

import (
	"testing"

	"github.com/xftp/xftp/web/recv"
)

// FuzzOpen: any page URL fragment is refused or opened, never a panic.
func FuzzOpen(f *testing.F) {
	for _, s := range []string{"", "#", "https://h/d/#xftp:file:1:", "xftp:file:1:AMoANf8BgIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaXmJmam5ydnp8BSHhmdHA6Ly9Wa2RhcDFSalIwd0NoZDlkdnl2S3R6Mm1VVFdJT2VtM2RJR3k2ckVIY0l3QGZpbGVzLmV4YW1wbGUub3JnOjQ0MwGAgAS7IorlxFQNOX_Mc5i5qZTlYeJpbuA0kC0Bf91Y4hjy4QEAGMDBwsPExcbHyMnKy8zNzs_Q0dLT1NXW10BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fAQAA__8"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, link string) {
		s, err := recv.Open(link)
		if err != nil {
			return
		}
		sum := s.Summary()
		if len(sum.Chunks) == 0 || len(sum.Servers) == 0 {
			t.Fatalf("opened a link without chunks or servers: %+v", sum)
		}
	})
}
