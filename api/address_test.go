package api

import (
	"errors"
	"strings"
	"testing"
)

// A password never appears in ParseAddress's errors, whatever is wrong
// with the address.
func TestParseAddressErrorsHideThePassword(t *testing.T) {
	fp := enc.EncodeToString(make([]byte, 32))
	for _, s := range []string{
		"xftp://" + fp + ":s3cret-pw@host",                // no port
		"xftp://" + fp + ":s3cret-pw@host:1?tls=nope",     // unknown option
		"xftp://" + fp + ":s3cret-pw@host:1/path",         // path
		"xftp://nofingerprint:s3cret-pw@host:1",           // bad fingerprint
		"http://" + fp + ":s3cret-pw@host:1",              // scheme
		"xftp://" + fp + ":s3cret-pw@host:1%zz",           // does not parse
		"xftp://" + fp + ":s3cret-pw@ho st:1",             // does not parse
		" xftp://" + fp + ":s3cret-pw@host:1#frag",        // fragment
		"xftp://" + fp + ":s3cret-pw:more@x@host:notport", // odd user info
	} {
		_, err := ParseAddress(s)
		if err == nil {
			t.Fatalf("%q parsed", s)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error shows the password: %v", err)
		}
	}
	if got := RedactAddress("xftp://fp:pw@h:1?tls=web"); got != "xftp://fp:xxxxx@h:1?tls=web" {
		t.Errorf("RedactAddress = %q", got)
	}
}

// Every code is in the table once, with a status and a text, and an
// answer with a code is its sentinel (and no other).
func TestCodeTable(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Codes {
		if seen[c.Code] || c.Status < 400 || c.Text == "" || !strings.HasSuffix(c.Text, "("+c.Code+")") {
			t.Errorf("bad or repeated row %+v", c)
		}
		seen[c.Code] = true
		err := error(&Error{Status: c.Status, Code: c.Code})
		if !errors.Is(err, codeError(c.Code)) || errors.Is(err, ErrAuth) != (c.Code == CodeAuth) {
			t.Errorf("%s: errors.Is does not follow the code", c.Code)
		}
		if err.Error() != c.Text || (&Error{Code: c.Code}).Temporary() != c.Temporary {
			t.Errorf("%s: text or retry rule not from the table", c.Code)
		}
	}
	if !errors.Is(&Error{Status: 507, Code: CodeQuota}, ErrQuota) {
		t.Error("errors.Is(QUOTA answer, ErrQuota) is false")
	}
	unknown := &Error{Status: 502, Code: "HTTP_502"}
	if !unknown.Temporary() || (&Error{Status: 400, Code: "X"}).Temporary() {
		t.Error("unknown codes: retry rule is not by status")
	}
}
