package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/xftp/xftp/storage"
)

// DefaultAckTimeout is how long an Acker waits for replicas by default.
const DefaultAckTimeout = 2 * time.Second

// ackMarkerTTL is how long a barrier's marker key lives.
const ackMarkerTTL = 10 * time.Second

// An Acker makes a write survive its master's death before the write is
// acknowledged: Redis replicates asynchronously, so a master killed just
// after it answered loses what its replicas had not received yet.
//
// WAIT only counts writes made on the connection it is sent on, and the
// stores' writes go through the client's pool (and, on a cluster, to
// several masters). So Ack takes a connection of its own to the master
// that owns each key, writes a marker key in that key's slot there and
// sends WAIT on the same connection. A master applies and replicates
// commands in order, so once its replicas hold the marker they hold every
// write that master answered before it: the store's write among them.
//
// It waits for as many replicas as the master has connected, if fewer
// than asked for: a master whose replica died, or a replica just promoted
// by a failover, goes on taking writes (unprotected until a replica joins;
// Redis's own min-replicas-to-write refuses them instead).
//
// A nil *Acker, or one asking for no replica, does nothing.
type Acker struct {
	client   goredis.UniversalClient
	prefix   string
	replicas int
	timeout  time.Duration
}

// NewAcker returns an Acker that needs replicas replicas (0: none, the
// writes are acknowledged as Redis answers them) to hold a write within
// timeout (DefaultAckTimeout if 0). Marker keys start with prefix.
func NewAcker(client goredis.UniversalClient, prefix string, replicas int, timeout time.Duration) *Acker {
	if timeout <= 0 {
		timeout = DefaultAckTimeout
	}
	return &Acker{client: client, prefix: prefix, replicas: replicas, timeout: timeout}
}

// Ack returns once the Acker's number of replicas (at most those
// connected) of each master owning one of keys hold every write that
// master answered before Ack was called. If too few replicas answer in time, or a master cannot be
// reached, it fails with storage.ErrUnavailable: the write may or may not
// survive a failover, so the caller must not acknowledge it (its client
// retries).
func (a *Acker) Ack(ctx context.Context, keys ...string) error {
	if a == nil || a.replicas <= 0 || len(keys) == 0 {
		return nil
	}
	type target struct {
		master *goredis.Client
		slot   int
	}
	var targets []target
	seen := map[string]bool{}
	for _, k := range keys {
		m, err := a.masterFor(ctx, k)
		if err != nil {
			return translate("replica ack", err)
		}
		if addr := m.Options().Addr; !seen[addr] {
			seen[addr] = true
			targets = append(targets, target{m, Slot(k)})
		}
	}
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() { errs[i] = a.wait(ctx, t.master, t.slot) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// masterFor returns the client of the master owning key: on a cluster, per
// the client's slot map; otherwise the one master the client reaches
// (Sentinel's failover client follows the current master).
func (a *Acker) masterFor(ctx context.Context, key string) (*goredis.Client, error) {
	switch c := a.client.(type) {
	case *goredis.ClusterClient:
		return c.MasterForKey(ctx, key)
	case *goredis.Client:
		return c, nil
	}
	return nil, fmt.Errorf("redis: replica acknowledgements need a cluster, Sentinel or single-server client, not %T", a.client)
}

// wait writes a marker in slot on a connection of its own to master and
// WAITs there for the Acker's number of replicas, or for as many as the
// master has connected (ROLE), if fewer: a master whose replica died, or
// was promoted in a failover and has no replica yet, goes on taking
// writes, as without WAIT (a Redis server refuses them with
// min-replicas-to-write set).
func (a *Acker) wait(ctx context.Context, master *goredis.Client, slot int) error {
	conn := master.Conn()
	defer conn.Close()
	var role *goredis.Cmd
	_, err := conn.Pipelined(ctx, func(p goredis.Pipeliner) error {
		p.Set(ctx, a.prefix+"{"+slotTags()[slot]+"}:ack", "1", ackMarkerTTL)
		role = p.Do(ctx, "ROLE")
		return nil
	})
	if err != nil {
		return translate("replica ack", err)
	}
	want := min(a.replicas, connectedReplicas(role.Val()))
	if want == 0 {
		return nil
	}
	n, err := conn.Do(ctx, "WAIT", want, a.timeout.Milliseconds()).Int()
	if err != nil {
		return translate("replica ack", err)
	}
	if n < want {
		return fmt.Errorf("redis: %w: %d of %d replicas acknowledged a write within %s", storage.ErrUnavailable, n, want, a.timeout)
	}
	return nil
}

// connectedReplicas returns how many replicas a master's ROLE answer
// lists (0 for anything else).
func connectedReplicas(role any) int {
	v, ok := role.([]any)
	if !ok || len(v) < 3 || v[0] != "master" {
		return 0
	}
	replicas, _ := v[2].([]any)
	return len(replicas)
}

// slotTags holds a hash tag for each cluster slot: the first base-36
// number, counting from 0, that lands in it.
var slotTags = sync.OnceValue(func() []string {
	tags := make([]string, numSlots)
	left := numSlots
	for n := uint64(0); left > 0; n++ {
		s := strconv.FormatUint(n, 36)
		if sl := int(crc16(s)) % numSlots; tags[sl] == "" {
			tags[sl] = s
			left--
		}
	}
	return tags
})
