package client

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/blocklist"
	"github.com/xftp/xftp/chunk"
)

// UploadRequest says what to upload and where.
type UploadRequest struct {
	// Path is the file to send.
	Path string
	// Servers are the relay addresses; chunks are spread across them.
	Servers []string
	// Recipients is the number of recipient descriptions to make (≥ 1).
	Recipients int
}

// Uploaded is the result of an upload.
type Uploaded struct {
	// Recipients holds one description per recipient.
	Recipients []*chunk.Description
	// Sender is the sender's description, which can delete the chunks.
	Sender *chunk.Description
	// Size is the plaintext size; Encrypted the bytes sent.
	Size, Encrypted int64
	Chunks          int
	Elapsed         time.Duration
}

// chunkKeys are the fresh keys and IDs of one uploaded chunk.
type chunkKeys struct {
	server       string
	sender       ed25519.PrivateKey
	senderID     []byte
	recipients   []ed25519.PrivateKey
	recipientIDs [][]byte
}

// Upload encrypts and uploads a file, returning its descriptions. Every
// chunk gets a fresh sender key and fresh keys per recipient, so nothing
// links one chunk's IDs to another's on the servers.
func Upload(ctx context.Context, req UploadRequest, o Options) (*Uploaded, error) {
	o.defaults()
	start := time.Now()
	if len(req.Servers) == 0 {
		return nil, errors.New("no server given")
	}
	if req.Recipients < 1 || req.Recipients > 1000 {
		return nil, fmt.Errorf("recipients: %d is not between 1 and 1000", req.Recipients)
	}
	p := newPool(o.ClientOptions)
	defer p.close()
	for _, s := range req.Servers {
		if _, err := p.get(s); err != nil {
			return nil, err
		}
	}
	if err := o.checkServers(req.Servers, blocklist.RestrictNoUploads); err != nil {
		return nil, err
	}
	f, err := os.Open(req.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", req.Path)
	}
	key, err := chunk.NewKey()
	if err != nil {
		return nil, err
	}
	sealer, err := chunk.NewSealer(key, filepath.Base(req.Path), f, fi.Size())
	if err != nil {
		return nil, err
	}
	digests, err := sealer.Digests(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", req.Path, err)
	}
	sizes := sealer.ChunkSizes()
	var total int64
	for _, s := range sizes {
		total += s
	}
	keys := make([]chunkKeys, len(sizes))
	first := mrand.N(len(req.Servers))
	var done atomic.Int64
	err = forEach(ctx, len(sizes), o.Parallel, func(ctx context.Context, i int) error {
		k := &keys[i]
		k.server = req.Servers[(first+i)%len(req.Servers)]
		c, _ := p.get(k.server)
		var err error
		if _, k.sender, err = ed25519.GenerateKey(rand.Reader); err != nil {
			return err
		}
		pubs := make([]ed25519.PublicKey, req.Recipients)
		k.recipients = make([]ed25519.PrivateKey, req.Recipients)
		for r := range k.recipients {
			pubs[r], k.recipients[r], _ = ed25519.GenerateKey(rand.Reader)
		}
		onRetry := func(err error) {
			o.emit(Event{Op: "upload", Chunk: i + 1, Chunks: len(sizes), Bytes: sizes[i], Retry: true, Err: err})
		}
		// A request carries at most maxKeysPerRequest recipient keys; more
		// are added in batches.
		first := pubs[:min(len(pubs), maxKeysPerRequest)]
		err = retry(ctx, o.Attempts, func() error {
			created, err := c.Create(ctx, k.sender, sizes[i], digests[i], first)
			if err != nil {
				return err
			}
			k.senderID, k.recipientIDs = created.SenderID, created.RecipientIDs
			return nil
		}, onRetry)
		for rest := pubs[len(first):]; err == nil && len(rest) > 0; {
			batch := rest[:min(len(rest), maxKeysPerRequest)]
			err = retry(ctx, o.Attempts, func() error {
				ids, err := c.AddRecipients(ctx, k.senderID, k.sender, batch)
				if err == nil {
					k.recipientIDs = append(k.recipientIDs, ids...)
				}
				return err
			}, onRetry)
			rest = rest[len(batch):]
		}
		if be := o.blocked(err, k.server, "upload", i+1, len(sizes)); be != nil {
			return be
		}
		if err != nil {
			return fmt.Errorf("chunk %d: creating on %s: %w", i+1, redact(k.server), err)
		}
		err = retry(ctx, o.Attempts, func() error {
			return c.Upload(ctx, k.senderID, k.sender, sealer.Chunk(i), sizes[i])
		}, onRetry)
		if be := o.blocked(err, k.server, "upload", i+1, len(sizes)); be != nil {
			return be
		}
		if err != nil {
			return fmt.Errorf("chunk %d: uploading to %s: %w", i+1, redact(k.server), err)
		}
		o.emit(Event{Op: "upload", Chunk: i + 1, Chunks: len(sizes), Bytes: sizes[i], Done: done.Add(sizes[i]), Total: total})
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := &Uploaded{Size: fi.Size(), Encrypted: total, Chunks: len(sizes)}
	out.Sender = describe(chunk.PartySender, key, sizes, digests, keys, func(k *chunkKeys) ([]byte, ed25519.PrivateKey) {
		return k.senderID, k.sender
	})
	for r := 0; r < req.Recipients; r++ {
		out.Recipients = append(out.Recipients, describe(chunk.PartyRecipient, key, sizes, digests, keys, func(k *chunkKeys) ([]byte, ed25519.PrivateKey) {
			return k.recipientIDs[r], k.recipients[r]
		}))
	}
	out.Elapsed = time.Since(start)
	return out, nil
}

func describe(party chunk.Party, key []byte, sizes []int64, digests [][32]byte, keys []chunkKeys, pick func(*chunkKeys) ([]byte, ed25519.PrivateKey)) *chunk.Description {
	d := &chunk.Description{Version: chunk.DescriptionVersion, Party: party, Key: key}
	for i := range sizes {
		id, k := pick(&keys[i])
		d.Size += sizes[i]
		d.Chunks = append(d.Chunks, chunk.ChunkRef{
			Number: i + 1, Size: sizes[i], Digest: digests[i],
			Replicas: []chunk.Replica{{Server: publicAddress(keys[i].server), ID: id, Key: k}},
		})
	}
	return d
}

// maxKeysPerRequest is the servers' limit of recipient keys per request.
const maxKeysPerRequest = 200

// publicAddress is a server address without its upload password: the
// password lets its holder upload, and descriptions travel to recipients.
func publicAddress(server string) string {
	a, err := api.ParseAddress(server)
	if err != nil {
		return server
	}
	return a.Redacted()
}

func (o *Options) emit(e Event) {
	if o.Progress != nil {
		o.Progress(e)
	}
}
