package server

import (
	"fmt"
	"slices"
	"time"
)

// Config holds the service's policy. The zero value is not valid; start
// from DefaultConfig.
type Config struct {
	// ChunkSizes are the only chunk sizes accepted.
	ChunkSizes []int64
	// Expiry is how long a chunk lives after it is created.
	Expiry time.Duration
	// Quota caps the bytes of all created chunks, uploaded or not; 0 means
	// no limit.
	Quota int64
	// Password, if set, must be presented to create chunks.
	Password string
	// AllowNew switches creation of new chunks on or off.
	AllowNew bool
	// MaxRecipients caps the recipient keys in one request.
	MaxRecipients int
	// MaxRecipientsPerChunk caps a chunk's recipient IDs in all, so that
	// repeated additions cannot grow a record without bound.
	MaxRecipientsPerChunk int
	// ClockSkew is how far a request's timestamp may be from the server's
	// clock. Nonces are remembered for twice as long.
	ClockSkew time.Duration
	// SweepInterval is how often expired chunks and orphaned bodies are
	// removed (also once at start-up).
	SweepInterval time.Duration
}

// DefaultConfig returns the defaults documented in the README.
func DefaultConfig() Config {
	return Config{
		ChunkSizes: []int64{64 << 10, 256 << 10, 1 << 20, 4 << 20},
		Expiry:     48 * time.Hour,
		AllowNew:   true,
		// 255 keys fit one XFTP command (its lists have a 1-byte count);
		// our own protocol takes as many.
		MaxRecipients: 255,
		// SimpleX's apps add a group's recipients 200 at a time, with no
		// cap per chunk on SimpleX's server; this bounds a record's growth.
		MaxRecipientsPerChunk: 1 << 16,
		ClockSkew:             2 * time.Minute,
		SweepInterval:         10 * time.Minute,
	}
}

// Validate reports the first invalid setting.
func (c Config) Validate() error {
	switch {
	case len(c.ChunkSizes) == 0:
		return fmt.Errorf("chunk sizes: at least one is required")
	case slices.ContainsFunc(c.ChunkSizes, func(n int64) bool { return n <= 0 || n > 64<<20 }):
		return fmt.Errorf("chunk sizes: each must be between 1 byte and 64 MiB")
	case c.Expiry < time.Minute:
		return fmt.Errorf("expiry: %v is shorter than a minute", c.Expiry)
	case c.Quota < 0:
		return fmt.Errorf("quota: must not be negative")
	case c.MaxRecipients < 1:
		return fmt.Errorf("max recipients: must be at least 1")
	case c.MaxRecipientsPerChunk < c.MaxRecipients:
		return fmt.Errorf("max recipients per chunk: must be at least the per-request maximum")
	case c.ClockSkew < 10*time.Second:
		return fmt.Errorf("clock skew: %v is too small to be usable", c.ClockSkew)
	case c.SweepInterval < time.Second:
		return fmt.Errorf("sweep interval: %v is too short", c.SweepInterval)
	}
	return nil
}

// MaxChunkSize is the largest accepted chunk size.
func (c Config) MaxChunkSize() int64 { return slices.Max(c.ChunkSizes) }
