package api

import (
	"crypto/ed25519"
	"fmt"

	"github.com/xftp/xftp/identity"
	"github.com/xftp/xftp/internal/onion"
)

// Receiving proxies (docs/PROXY.md). A proxy is an xftpd with the proxy
// role switched on; it serves these two endpoints.
const (
	// ProxyPath takes POST with a sealed onion layer as the body.
	ProxyPath = "/v1/proxy"
	// ProxyKeyPath answers GET with a ProxyKeyResponse.
	ProxyKeyPath = "/v1/proxy/key"
)

// Proxy error codes. A proxy's own refusals are plain JSON error answers
// to its previous hop; refusals of later hops travel back sealed.
const (
	// CodeProxyLayer: the layer could not be opened or is malformed.
	CodeProxyLayer = "PROXY_LAYER"
	// CodeProxyRefused: the proxy will not forward to that next hop (not
	// on its allow-list, itself, or not an xftp server).
	CodeProxyRefused = "PROXY_REFUSED"
	// CodeProxyBusy: the proxy is at its concurrency limit (503).
	CodeProxyBusy = "PROXY_BUSY"
	// CodeUnreachable: the next hop could not be reached (sealed refusals
	// only).
	CodeUnreachable = "UNREACHABLE"
	// CodeWrongIdentity: the next hop failed its identity check (sealed
	// refusals only).
	CodeWrongIdentity = "WRONG_IDENTITY"
)

// proxyCodeText explains proxy refusals in ProxyError messages.
var proxyCodeText = map[string]string{
	CodeProxyLayer:    "could not open the request sealed to it (PROXY_LAYER); is it a proxy?",
	CodeProxyRefused:  "refuses to forward to that next hop (PROXY_REFUSED)",
	CodeProxyBusy:     "is busy (PROXY_BUSY)",
	CodeUnreachable:   "could not be reached (UNREACHABLE)",
	CodeWrongIdentity: "is not the server its address pins (WRONG_IDENTITY)",
	CodeRate:          "refused: too many requests from this source (RATE)",
	CodeNotFound:      "is not a proxy: the proxy role is off (NOT_FOUND)",
}

// ProxyKeyResponse answers GET /v1/proxy/key: the proxy's identity key and
// its X25519 proxy key, signed by the identity key over
// "xftp proxy key v1\x00" || proxy key.
type ProxyKeyResponse struct {
	IdentityKey B64 `json:"identity_key"`
	ProxyKey    B64 `json:"proxy_key"`
	Signature   B64 `json:"signature"`
}

// Verify checks that the answer comes from the identity with fingerprint
// want and returns the proxy key it vouches for.
func (r *ProxyKeyResponse) Verify(want identity.Fingerprint) ([]byte, error) {
	pub := ed25519.PublicKey(r.IdentityKey)
	if len(pub) != ed25519.PublicKeySize || !want.Matches(pub) {
		return nil, fmt.Errorf("%w: proxy key answer from another identity (expected %s)", identity.ErrWrongIdentity, want)
	}
	if len(r.ProxyKey) != 32 || !ed25519.Verify(pub, onion.ProxyKeyMessage(r.ProxyKey), r.Signature) {
		return nil, fmt.Errorf("%w: proxy key not signed by the identity", identity.ErrWrongIdentity)
	}
	return r.ProxyKey, nil
}

// NewProxyKeyResponse is a proxy's signed answer.
func NewProxyKeyResponse(id *identity.Identity, proxyPub []byte) ProxyKeyResponse {
	return ProxyKeyResponse{IdentityKey: B64(id.Public()), ProxyKey: proxyPub, Signature: id.Sign(onion.ProxyKeyMessage(proxyPub))}
}
