package api

// Receiving proxies (docs/PROXY.md). A proxy is an xftpd with the proxy
// role switched on; it serves these two endpoints.
const (
	// ProxyPath takes POST with a sealed onion layer as the body.
	ProxyPath = "/v1/proxy"
	// ProxyKeyPath answers GET with a ProxyKeyResponse.
	ProxyKeyPath = "/v1/proxy/key"
)

// ProxyKeyResponse answers GET /v1/proxy/key: the proxy's identity key and
// its X25519 proxy key, signed by the identity key over
// "xftp proxy key v1\x00" || proxy key.
type ProxyKeyResponse struct {
	IdentityKey B64 `json:"identity_key"`
	ProxyKey    B64 `json:"proxy_key"`
	Signature   B64 `json:"signature"`
}
