package httpclient

import (
	"context"
	"net/http"

	"github.com/xftp/xftp/api"
)

// ListReports returns one page of open abuse reports, oldest first.
func (c *AdminClient) ListReports(ctx context.Context, cursor string, limit int) (*api.AdminReportList, error) {
	var out api.AdminReportList
	return &out, c.do(ctx, http.MethodGet, pagePath("/admin/v1/reports", cursor, limit), nil, &out)
}

// GetReport returns one report.
func (c *AdminClient) GetReport(ctx context.Context, id []byte) (*api.AdminReport, error) {
	var out api.AdminReport
	return &out, c.do(ctx, http.MethodGet, "/admin/v1/reports/"+enc.EncodeToString(id), nil, &out)
}

// DismissReport removes a report without blocking.
func (c *AdminClient) DismissReport(ctx context.Context, id []byte) error {
	var out struct{}
	return c.do(ctx, http.MethodDelete, "/admin/v1/reports/"+enc.EncodeToString(id), nil, &out)
}

// BlockReport blocks the chunk of a report (req.ID is ignored).
func (c *AdminClient) BlockReport(ctx context.Context, id []byte, req api.AdminBlockRequest) (*api.AdminCase, error) {
	req.ID = nil
	var out api.AdminCase
	return &out, c.do(ctx, http.MethodPost, "/admin/v1/reports/"+enc.EncodeToString(id)+"/block", req, &out)
}

// Appeal grants an appeal: it returns the unblock proof for a case.
func (c *AdminClient) Appeal(ctx context.Context, req api.AdminAppealRequest) (*api.AdminAppeal, error) {
	var out api.AdminAppeal
	return &out, c.do(ctx, http.MethodPost, "/admin/v1/appeals", req, &out)
}
