package client

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/api/httpclient"
	"github.com/xftp/xftp/chunk"
)

// ChunkState is what a sender learns about one chunk replica.
type ChunkState string

// Chunk states.
const (
	StateUploaded    ChunkState = "uploaded"
	StateNotUploaded ChunkState = "not_uploaded"
	// StateGone: expired or deleted. The server answers both alike (AUTH),
	// so the client cannot tell which.
	StateGone    ChunkState = "expired_or_deleted"
	StateBlocked ChunkState = "blocked"
	// StateUnknown: the server could not be asked (down, refused, a
	// forged block); Err says why.
	StateUnknown ChunkState = "unknown"
)

// ReplicaStatus is the state of one chunk replica and its delivery
// receipts. Receipts are counts: the server never says which recipient,
// and the padding IDs never download, so Downloaded and Acked count real
// recipients; RecipientIDs includes the padding.
type ReplicaStatus struct {
	Chunk  int  // 1-based number in its list
	Parity bool // a parity chunk
	Server string
	State  ChunkState
	// Receipts, for uploaded and not-uploaded chunks.
	RecipientIDs, Downloaded, Acked int
	ExpiresAt                       time.Time
	// Blocked holds the verified record for StateBlocked.
	Blocked *BlockedError
	Err     error
}

// FileStatus is the state of every chunk replica of a file.
type FileStatus struct {
	Replicas []ReplicaStatus
	// Blocked is the first verified block found, if any.
	Blocked *BlockedError
	At      time.Time
}

// Count returns how many replicas are in state st.
func (f *FileStatus) Count(st ChunkState) int {
	n := 0
	for _, r := range f.Replicas {
		if r.State == st {
			n++
		}
	}
	return n
}

// Final reports whether nothing can change any more: every replica is
// gone or blocked.
func (f *FileStatus) Final() bool {
	return f.Count(StateGone)+f.Count(StateBlocked) == len(f.Replicas)
}

// Status asks the servers of a sender description for the state of each
// chunk replica and its delivery receipts (one signed request per
// replica). A blocked replica's record is verified against the pinned
// fingerprint and its restrictions are recorded in o.Restrictions, as for
// any other operation. Errors of single servers are reported per replica
// (StateUnknown); Status fails only for a description that is not a
// sender's or when ctx ends.
func Status(ctx context.Context, d *chunk.Description, o Options) (*FileStatus, error) {
	o.defaults()
	if err := d.Validate(); err != nil {
		return nil, err
	}
	if d.Party != chunk.PartySender {
		return nil, errors.New("this is a recipient's description; status needs the sender's (snd.xftp.private)")
	}
	p := newPool(o.ClientOptions)
	defer p.close()
	return status(ctx, d, &o, p, nil)
}

// status checks the replicas of d that keep says to (all if keep is nil).
func status(ctx context.Context, d *chunk.Description, o *Options, p *pool, keep func(server string) bool) (*FileStatus, error) {
	type job struct {
		ref    *chunk.ChunkRef
		rep    chunk.Replica
		parity bool
	}
	var jobs []job
	for _, list := range []struct {
		refs   []chunk.ChunkRef
		parity bool
	}{{d.Chunks, false}, {d.Parity, true}} {
		for i := range list.refs {
			for _, rep := range list.refs[i].Replicas {
				if keep == nil || keep(rep.Server) {
					jobs = append(jobs, job{&list.refs[i], rep, list.parity})
				}
			}
		}
	}
	out := &FileStatus{Replicas: make([]ReplicaStatus, len(jobs)), At: time.Now()}
	var mu sync.Mutex
	total := len(d.Chunks) + len(d.Parity)
	err := forEach(ctx, len(jobs), o.Parallel, func(ctx context.Context, i int) error {
		j := jobs[i]
		rs := ReplicaStatus{Chunk: j.ref.Number, Parity: j.parity, Server: redact(j.rep.Server), State: StateUnknown}
		defer func() { out.Replicas[i] = rs }()
		c, err := p.get(j.rep.Server)
		if err != nil {
			rs.Err = err
			return nil
		}
		var st *httpclient.ChunkStatus
		err = retry(ctx, o.retries(j.rep.Server), func() error {
			var err error
			st, err = c.Status(ctx, j.rep.ID, j.rep.Key)
			return err
		}, nil)
		no := j.ref.Number
		if j.parity {
			no += len(d.Chunks)
		}
		switch be := o.blocked(err, j.rep.Server, "status", no, total); {
		case be != nil:
			// The sender's own chunk, asked with the sender key: its
			// restrictions apply (be's message, shown with the status or
			// the refused upload, says so).
			o.restrict(be)
			rs.State, rs.Blocked = StateBlocked, be
			mu.Lock()
			if out.Blocked == nil {
				out.Blocked = be
			}
			mu.Unlock()
		case errors.Is(err, api.ErrAuth):
			rs.State = StateGone
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			rs.Err = err
		default:
			rs.State = StateNotUploaded
			if st.Uploaded {
				rs.State = StateUploaded
			}
			rs.RecipientIDs, rs.Downloaded, rs.Acked, rs.ExpiresAt = st.RecipientIDs, st.Downloaded, st.Acked, st.ExpiresAt
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// WatchOptions bound a Watch.
type WatchOptions struct {
	// Interval between checks (default 5 minutes, at least a second);
	// each wait is drawn at random within ±20% of it, so that clients
	// watching many files do not ask in step.
	Interval time.Duration
	// MaxChecks stops after this many checks (0: no limit but Until).
	MaxChecks int
	// Until stops watching at this time. Zero means when the last chunk
	// expires (as its server said) or, if no server said, after 48 hours.
	Until time.Time
}

// Watch checks d's status until every replica is gone or blocked, or the
// bounds of w are reached, calling fn after each check. It returns the
// last status.
func Watch(ctx context.Context, d *chunk.Description, o Options, w WatchOptions, fn func(*FileStatus)) (*FileStatus, error) {
	if w.Interval <= 0 {
		w.Interval = 5 * time.Minute
	}
	w.Interval = max(w.Interval, time.Second)
	until := w.Until
	if until.IsZero() {
		until = time.Now().Add(48 * time.Hour)
	}
	for checks := 1; ; checks++ {
		st, err := Status(ctx, d, o)
		if err != nil {
			return nil, err
		}
		if fn != nil {
			fn(st)
		}
		if w.Until.IsZero() {
			if last := latestExpiry(st); !last.IsZero() {
				until = last
			}
		}
		wait := jitter(w.Interval)
		if st.Final() || w.MaxChecks > 0 && checks >= w.MaxChecks || time.Now().Add(wait).After(until) {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(wait):
		}
	}
}

func latestExpiry(st *FileStatus) time.Time {
	var t time.Time
	for _, r := range st.Replicas {
		if r.ExpiresAt.After(t) {
			t = r.ExpiresAt
		}
	}
	return t
}

// jitter returns d ± 20%.
func jitter(d time.Duration) time.Duration {
	span := int64(d) * 2 / 5
	if span <= 0 {
		return d
	}
	return d - time.Duration(span/2) + time.Duration(rand.Int64N(span+1))
}
