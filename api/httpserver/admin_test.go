package httpserver_test

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/api/httpclient"
	"github.com/xftp/xftp/api/httpserver"
	"github.com/xftp/xftp/blocklist"
	"github.com/xftp/xftp/server"
)

const testToken = "0123456789abcdef0123456789abcdef"

func newAdmin(t *testing.T, bs *blockingServer) (*httpserver.AdminHandler, *httptest.Server) {
	t.Helper()
	h, err := httpserver.NewAdminHandler(server.NewModeration(bs.Service), testToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h.Routes())
	t.Cleanup(ts.Close)
	return h, ts
}

func TestAdminAPIRejectsMissingWrongAndMisshapenTokens(t *testing.T) {
	bs := newBlockingServer(t)
	_, ts := newAdmin(t, bs)
	cases := []struct {
		name, header string
		want         int
	}{
		{"missing", "", 401},
		{"empty bearer", "Bearer ", 401},
		{"wrong", "Bearer " + strings.Repeat("x", len(testToken)), 401},
		{"prefix of the token", "Bearer " + testToken[:len(testToken)-1], 401},
		{"token plus more", "Bearer " + testToken + "0", 401},
		{"much longer", "Bearer " + strings.Repeat(testToken, 100), 401},
		{"other scheme", "Basic " + testToken, 401},
		{"lower-case scheme", "bearer " + testToken, 401},
		{"right", "Bearer " + testToken, 200},
	}
	for _, tc := range cases {
		for _, path := range []string{"/admin/v1/identity", "/admin/v1/blocks", "/admin/v1/nope"} {
			req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			want := tc.want
			if want == 200 && path == "/admin/v1/nope" {
				want = 404
			}
			if resp.StatusCode != want {
				t.Errorf("%s on %s: %d, want %d", tc.name, path, resp.StatusCode, want)
			}
		}
	}
	if _, err := httpserver.NewAdminHandler(server.NewModeration(bs.Service), "short", nil); err == nil {
		t.Fatal("a short token was accepted")
	}
}

// TestAdminTokenCompareIsConstantTime checks the comparison rather than
// timing it: it is subtle.ConstantTimeCompare, every request goes through
// it, always over two SHA-256 sums of equal length, whatever was sent.
func TestAdminTokenCompareIsConstantTime(t *testing.T) {
	bs := newBlockingServer(t)
	h, ts := newAdmin(t, bs)
	if reflect.ValueOf(h.Compare()).Pointer() != reflect.ValueOf(subtle.ConstantTimeCompare).Pointer() {
		t.Fatal("the admin token is not compared with subtle.ConstantTimeCompare")
	}
	var calls int
	h.SetCompare(func(x, y []byte) int {
		calls++
		if len(x) != 32 || len(y) != 32 {
			t.Errorf("compared %d and %d bytes; want two 32-byte sums", len(x), len(y))
		}
		return subtle.ConstantTimeCompare(x, y)
	})
	for i, hdr := range []string{"", "Bearer x", "Bearer " + strings.Repeat("y", 5000), "Token " + testToken, "Bearer " + testToken} {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/admin/v1/identity", nil)
		req.Header.Set("Authorization", hdr)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if calls != i+1 {
			t.Fatalf("request %d: compare called %d times in all, want %d", i, calls, i+1)
		}
	}
}

func TestAdminBlockGetListUnblock(t *testing.T) {
	bs := newBlockingServer(t)
	_, ts := newAdmin(t, bs)
	ac := httpclient.NewAdminClient(ts.URL, testToken)
	c := bs.client(t)

	ident, err := ac.Identity(bg)
	if err != nil || ident.Fingerprint != bs.Address.Fingerprint.String() {
		t.Fatalf("identity: %+v, %v", ident, err)
	}
	body, digest := randomChunk(size64K)
	rk := newKey()
	_, cr := uploadChunk(t, c, body, digest, rk, newKey())
	res, err := ac.Block(bg, api.AdminBlockRequest{ID: cr.RecipientIDs[1], Reason: "content", Notice: "n", TTLSeconds: 3600, Restrictions: []string{"no_uploads"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Keys) != 4 || len(res.Case) != 16 || res.Body != "deleted" || res.TTLSeconds != 3600 {
		t.Fatalf("block answer %+v", res)
	}
	_, err = c.Download(bg, cr.RecipientIDs[0], rk, int64(len(body)))
	wantVerifiedBlock(t, err, bs.Address.Fingerprint, cr.RecipientIDs[0], "download after the admin block")

	var ae *httpclient.AdminAPIError
	if _, err := ac.Block(bg, api.AdminBlockRequest{ID: cr.SenderID, Reason: "content"}); !errors.As(err, &ae) || ae.Code != api.CodeAlreadyBlocked || ae.Status != 409 {
		t.Fatalf("second block: %v", err)
	}
	unknown := make([]byte, 24)
	if _, err := ac.Block(bg, api.AdminBlockRequest{ID: unknown, Reason: "content"}); !errors.As(err, &ae) || ae.Status != 404 {
		t.Fatalf("unknown ID: %v", err)
	}
	body2, digest2 := randomChunk(size64K)
	_, cr2 := uploadChunk(t, c, body2, digest2, newKey())
	if _, err := ac.Block(bg, api.AdminBlockRequest{ID: cr2.SenderID, Reason: "Not Valid"}); !errors.As(err, &ae) || ae.Status != 400 || !strings.Contains(ae.Detail, "reason") {
		t.Fatalf("bad reason: %v", err)
	}

	got, err := ac.Get(bg, cr.SenderID)
	if err != nil || string(got.Case) != string(res.Case) || len(got.Keys) != 4 {
		t.Fatalf("get by sender ID: %+v, %v", got, err)
	}
	if got, err = ac.Get(bg, res.Case); err != nil || len(got.Keys) != 4 {
		t.Fatalf("get by case: %+v, %v", got, err)
	}
	var all []api.AdminEntry
	cursor := ""
	for {
		page, err := ac.List(bg, cursor, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Entries) > 3 {
			t.Fatalf("page of %d entries, limit 3", len(page.Entries))
		}
		all = append(all, page.Entries...)
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	if len(all) != 4 {
		t.Fatalf("listed %d entries, want 4", len(all))
	}
	for _, e := range all {
		if string(e.Case) != string(res.Case) || e.Reason != "content" || len(e.KeyHash) != 32 {
			t.Fatalf("entry %+v", e)
		}
	}
	if _, err := ac.List(bg, "bogus", 0); !errors.As(err, &ae) || ae.Status != 400 {
		t.Fatalf("bad cursor: %v", err)
	}

	un, err := ac.Unblock(bg, cr.RecipientIDs[0])
	if err != nil || len(un.Keys) != 4 {
		t.Fatalf("unblock: %+v, %v", un, err)
	}
	if _, err := ac.Unblock(bg, cr.RecipientIDs[0]); !errors.As(err, &ae) || ae.Code != api.CodeNotBlocked {
		t.Fatalf("second unblock: %v", err)
	}
	// Unblocked: the same content can be created again.
	if _, err := c.Create(bg, newKey(), int64(len(body)), digest, pubs(newKey())); err != nil {
		t.Fatalf("create after unblock: %v", err)
	}
	var be *blocklist.BlockedError
	if _, err := c.Download(bg, cr.RecipientIDs[0], rk, int64(len(body))); errors.As(err, &be) {
		t.Fatal("still blocked after unblock")
	}
}
