package e2e

import (
	"crypto/tls"
	"net/http"
	"testing"
	"time"
)

// readyz returns the status of GET /readyz (the identity is not checked:
// this is a probe, as an orchestrator's would be).
func readyz(t *testing.T, addr string) int {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}}
	defer c.CloseIdleConnections()
	resp, err := c.Get("https://" + hostOf(addr) + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
