package httpclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/xftp/xftp/api"
)

// AdminClient talks to a server's admin API.
type AdminClient struct {
	base  string
	token string
	hc    *http.Client
}

// NewAdminClient returns a client for the admin API at base (such as
// http://127.0.0.1:5444) that sends token.
func NewAdminClient(base, token string) *AdminClient {
	return &AdminClient{
		base: strings.TrimRight(base, "/"), token: token,
		hc: &http.Client{Timeout: time.Minute, Transport: &http.Transport{Proxy: nil}},
	}
}

// AdminAPIError is an error answer of the admin API.
type AdminAPIError struct {
	Status int
	Code   string
	Detail string
}

func (e *AdminAPIError) Error() string {
	s := fmt.Sprintf("admin API answered HTTP %d (%s)", e.Status, e.Code)
	if e.Code == api.CodeAuth {
		s = "the admin API refused the token (AUTH): check --token-file"
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Is reports whether target is the sentinel of the answer's code
// (errors.Is(err, api.ErrNotBlocked)).
func (e *AdminAPIError) Is(target error) bool { return (&api.Error{Code: e.Code}).Is(target) }

func (c *AdminClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e := &AdminAPIError{Status: resp.StatusCode}
		var ae api.AdminError
		if json.NewDecoder(io.LimitReader(resp.Body, 8192)).Decode(&ae) == nil {
			e.Code, e.Detail = ae.Error, ae.Detail
		}
		if e.Code == "" {
			e.Code = fmt.Sprintf("HTTP_%d", resp.StatusCode)
		}
		return e
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(out); err != nil {
		return fmt.Errorf("malformed answer from the admin API: %w", err)
	}
	return nil
}

// Identity returns the server's fingerprint.
func (c *AdminClient) Identity(ctx context.Context) (*api.AdminIdentity, error) {
	var out api.AdminIdentity
	return &out, c.do(ctx, http.MethodGet, "/admin/v1/identity", nil, &out)
}

// Block blocks the chunk that req.ID names.
func (c *AdminClient) Block(ctx context.Context, req api.AdminBlockRequest) (*api.AdminCase, error) {
	var out api.AdminCase
	return &out, c.do(ctx, http.MethodPost, "/admin/v1/blocks", req, &out)
}

// Get returns the case of ref, a chunk ID or case code.
func (c *AdminClient) Get(ctx context.Context, ref []byte) (*api.AdminCase, error) {
	var out api.AdminCase
	return &out, c.do(ctx, http.MethodGet, "/admin/v1/blocks/"+enc.EncodeToString(ref), nil, &out)
}

// Unblock removes the block of ref, a chunk ID or case code.
func (c *AdminClient) Unblock(ctx context.Context, ref []byte) (*api.AdminCase, error) {
	var out api.AdminCase
	return &out, c.do(ctx, http.MethodDelete, "/admin/v1/blocks/"+enc.EncodeToString(ref), nil, &out)
}

// List returns one page of blocked keys.
func (c *AdminClient) List(ctx context.Context, cursor string, limit int) (*api.AdminList, error) {
	var out api.AdminList
	return &out, c.do(ctx, http.MethodGet, pagePath("/admin/v1/blocks", cursor, limit), nil, &out)
}

// pagePath is path with the query of a list page: its cursor and limit,
// each if set.
func pagePath(path, cursor string, limit int) string {
	q := url.Values{}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return path
}
