package redis

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Nonces remembers request nonces in Redis, shared by all replicas, so a
// signed request accepted by one replica cannot be replayed at another. It
// satisfies server.Nonces.
type Nonces struct {
	client goredis.UniversalClient
	prefix string
}

// NewNonces returns a Nonces keeping its keys under prefix.
func NewNonces(client goredis.UniversalClient, prefix string) *Nonces {
	return &Nonces{client: client, prefix: prefix}
}

// Use records nonce until the given time with SET NX PX: one round trip.
func (n *Nonces) Use(ctx context.Context, nonce []byte, until time.Time) (bool, error) {
	ttl := time.Until(until)
	if ttl < time.Second {
		ttl = time.Second
	}
	h := sha256.Sum256(nonce)
	ok, err := n.client.SetNX(ctx, n.prefix+"nonce:"+base64.RawURLEncoding.EncodeToString(h[:16]), 1, ttl).Result()
	if err != nil {
		return false, translate("nonce", err)
	}
	return ok, nil
}
