package client

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/xftp/xftp/api/httpclient"
	"github.com/xftp/xftp/chunk"
)

// uploadState is what an interrupted upload needs to continue: the file key
// (encryption is deterministic for a key, so every chunk can be made again
// from the file), and per chunk its server, keys, IDs and whether its body
// reached the server. It holds secrets: it is written with mode 0600, and
// removed once the descriptions are saved.
type uploadState struct {
	Version    int         `json:"version"`
	Name       string      `json:"name"`
	Size       int64       `json:"size"`
	ModTime    int64       `json:"mod_time"`
	Key        []byte      `json:"key"`
	Servers    []string    `json:"servers"`
	Recipients int         `json:"recipients"`
	Data       int         `json:"data_shards"`
	Parity     int         `json:"parity_shards"`
	Items      []itemState `json:"items"`
}

// itemState is one chunk (data or parity) of an upload.
type itemState struct {
	Server       string   `json:"server"`
	Sender       []byte   `json:"sender,omitempty"` // Ed25519 seed
	SenderID     []byte   `json:"sender_id,omitempty"`
	Recipients   [][]byte `json:"recipients,omitempty"` // seeds, padded count
	RecipientIDs [][]byte `json:"recipient_ids,omitempty"`
	Digest       []byte   `json:"digest,omitempty"`
	Uploaded     bool     `json:"uploaded,omitempty"`
	// ExpiresAt is when the server drops the chunk (unix seconds); a
	// resumed upload starts chunks over that expire before it can finish.
	ExpiresAt int64 `json:"expires_at,omitempty"`
}

func (it *itemState) created() bool {
	return len(it.SenderID) > 0 && len(it.RecipientIDs) == len(it.Recipients)
}

// setCreated records the IDs and expiry a server gave the chunk.
func (it *itemState) setCreated(c *httpclient.Created) {
	it.SenderID, it.RecipientIDs = c.SenderID, c.RecipientIDs
	it.ExpiresAt = c.ExpiresAt.Unix()
}

func (it *itemState) senderKey() ed25519.PrivateKey { return ed25519.NewKeyFromSeed(it.Sender) }

const stateVersion = 1

// stateFile persists an uploadState, throttled: progress is saved at most
// every interval, and always by flush.
type stateFile struct {
	file     localFile // path "" keeps the state in memory only
	mu       sync.Mutex
	st       *uploadState
	last     time.Time
	interval time.Duration
}

// errUnreadableState is a resume state that is not JSON of this version.
var errUnreadableState = errors.New("unreadable")

// uploadStateFile is the resume state at path of an upload like want: its
// bound grows with the chunks and recipients the upload can have.
func uploadStateFile(path string, want *uploadState) localFile {
	chunks := int64(len(chunk.Plan(2*want.Size+chunk.Size4M))) * int64(1+max(want.Parity, 0))
	perChunk := int64(1<<10 + 256*chunk.PaddedRecipients(max(want.Recipients, 1)))
	return localFile{path: path, version: stateVersion, limit: 1<<20 + chunks*perChunk}
}

// loadState reads the state in f. It returns nil, nil if there is none.
func loadState(f localFile) (*uploadState, error) {
	var st uploadState
	found, err := f.load(&st)
	switch {
	case errors.Is(err, errDamagedState):
		return nil, fmt.Errorf("resume state %s: %w", f.path, errUnreadableState)
	case err != nil || !found:
		return nil, err
	}
	return &st, nil
}

// matches reports why st cannot continue the upload that want describes.
func (st *uploadState) mismatch(want *uploadState) string {
	switch {
	case st.Name != want.Name || st.Size != want.Size || st.ModTime != want.ModTime:
		return "the file changed since the interrupted upload"
	case !slices.Equal(st.Servers, want.Servers):
		return "the servers differ from the interrupted upload's"
	case st.Recipients != want.Recipients || st.Data != want.Data || st.Parity != want.Parity:
		return "the recipients or shard counts differ from the interrupted upload's"
	case len(st.Key) != 32:
		return "the interrupted upload's state holds no file key"
	}
	return ""
}

// save writes the state if the interval has passed (or force).
func (f *stateFile) save(force bool) error {
	if f == nil || f.file.path == "" {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !force && time.Since(f.last) < f.interval {
		return nil
	}
	if err := f.file.save(f.st); err != nil {
		return fmt.Errorf("saving resume state: %w", err)
	}
	f.last = time.Now()
	return nil
}

// update changes the state under the lock.
func (f *stateFile) update(fn func(st *uploadState)) {
	f.mu.Lock()
	fn(f.st)
	f.mu.Unlock()
}
