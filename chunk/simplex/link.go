package simplex

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// MaxLinkSize bounds a link before it is decoded.
const MaxLinkSize = 256 << 10

// RedirectThreshold is the web-link fragment length above which SimpleX's
// web client uploads the description as a file and links a redirect
// description instead.
const RedirectThreshold = 400

// URI returns the description as the SimpleX app's file link:
// simplex:/file#/?desc=<URL-encoded YAML>.
func (d *Description) URI() (string, error) {
	y, err := d.Marshal()
	if err != nil {
		return "", err
	}
	return "simplex:/file#/?desc=" + queryEscape(y), nil
}

// Fragment returns the fragment of a web link: base64url (padded) of the
// raw-DEFLATE-compressed YAML, as SimpleX's web page and CLI write it.
func (d *Description) Fragment() (string, error) {
	y, err := d.Marshal()
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	w, err := flate.NewWriter(&b, flate.BestCompression)
	if err != nil {
		return "", err
	}
	w.Write(y)
	if err := w.Close(); err != nil {
		return "", err
	}
	return base64.URLEncoding.EncodeToString(b.Bytes()), nil
}

// WebLink returns the web-page link of a recipient description: page (an
// https:// URL without a fragment; empty means the first chunk's server,
// https://host[:port]/, as SimpleX's web page does), '#', Fragment.
func (d *Description) WebLink(page string) (string, error) {
	f, err := d.Fragment()
	if err != nil {
		return "", err
	}
	if page == "" {
		s := d.Chunks[0].Replicas[0].Server
		page = "https://" + s.Hosts[0]
		if s.Port != 0 && s.Port != 443 {
			page += ":" + strconv.Itoa(s.Port)
		}
		page += "/"
	}
	return page + "#" + f, nil
}

// ParseLink reads a recipient description from any link form SimpleX
// produces: simplex:/file#/?desc=…, the same on an https:// host, or a web
// page link https://host/…#<fragment>. It returns a validated recipient
// description.
func ParseLink(link string) (*Description, error) {
	if len(link) > MaxLinkSize {
		return nil, descErr("link is %d bytes, at most %d allowed", len(link), MaxLinkSize)
	}
	var scheme string
	switch {
	case strings.HasPrefix(link, "simplex:"):
		scheme = "simplex:"
	case strings.HasPrefix(link, "https://"):
		scheme = "https://"
	case strings.HasPrefix(link, "http://"):
		scheme = "http://"
	default:
		return nil, descErr("link does not start with simplex:, https:// or http://")
	}
	before, frag, ok := strings.Cut(link, "#")
	if !ok || frag == "" {
		return nil, descErr("link has no #fragment holding the description")
	}
	var d *Description
	var err error
	if q, ok := strings.CutPrefix(frag, "/?"); ok {
		// simplex:/file#/?desc=… or https://host/file#/?desc=…
		path := strings.TrimPrefix(before, scheme)
		if scheme != "simplex:" {
			if i := strings.IndexByte(path, '/'); i >= 0 {
				path = path[i:]
			} else {
				path = ""
			}
		}
		if path != "/file" && path != "/file/" {
			return nil, descErr("link path is %q, not /file", path)
		}
		d, err = parseQueryLink(q)
	} else {
		if scheme == "simplex:" {
			return nil, descErr("simplex: link fragment does not start with /?")
		}
		d, err = parseFragment(frag)
	}
	if err != nil {
		return nil, err
	}
	if d.Party != Recipient {
		return nil, descErr("a link must hold a recipient description, not a %s one", d.Party)
	}
	return d, nil
}

func parseQueryLink(q string) (*Description, error) {
	var desc []byte
	found := false
	for _, kv := range strings.FieldsFunc(q, func(r rune) bool { return r == '&' || r == ';' }) {
		k, v, _ := strings.Cut(kv, "=")
		key, err := queryUnescape(k)
		if err != nil {
			return nil, descErr("link query: %v", err)
		}
		if string(key) != "desc" {
			continue
		}
		if found {
			return nil, descErr("link has two desc parameters")
		}
		found = true
		if desc, err = queryUnescape(v); err != nil {
			return nil, descErr("link desc: %v", err)
		}
	}
	if !found {
		return nil, descErr("link has no desc parameter")
	}
	return Parse(desc)
}

func parseFragment(f string) (*Description, error) {
	z, err := decodeB64(f)
	if err != nil {
		return nil, descErr("link fragment is not base64url")
	}
	r := flate.NewReader(bytes.NewReader(z))
	y, err := io.ReadAll(io.LimitReader(r, MaxDescriptionSize+1))
	if err != nil {
		return nil, descErr("link fragment does not decompress: %v", err)
	}
	if len(y) > MaxDescriptionSize {
		return nil, descErr("link fragment decompresses to more than %d bytes", MaxDescriptionSize)
	}
	return Parse(y)
}

// queryEscape percent-encodes all but ALPHA / DIGIT / "-_.~", upper-case
// hex, as SimpleX's Haskell code (http-types) renders a query value.
func queryEscape(b []byte) string {
	const hex = "0123456789ABCDEF"
	var s strings.Builder
	for _, c := range b {
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			s.WriteByte(c)
			continue
		}
		s.WriteByte('%')
		s.WriteByte(hex[c>>4])
		s.WriteByte(hex[c&15])
	}
	return s.String()
}

// queryUnescape decodes %XX and '+' (a space), as http-types does.
func queryUnescape(s string) ([]byte, error) {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '+':
			b = append(b, ' ')
		case '%':
			if i+2 >= len(s) {
				return nil, fmt.Errorf("truncated %% escape")
			}
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return nil, fmt.Errorf("bad %% escape %q", s[i:i+3])
			}
			b = append(b, byte(v))
			i += 2
		default:
			b = append(b, c)
		}
	}
	return b, nil
}
