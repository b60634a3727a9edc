package client

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/xftp/xftp/api/xftp"
	"github.com/xftp/xftp/chunk/simplex"
)

// SimplexUploadRequest says what to send as a SimpleX file, and to which
// XFTP servers. The engine reads the content through Source and touches no
// file: UploadSimplexFile is the same upload from a file.
type SimplexUploadRequest struct {
	// Source holds the content: Size bytes read through ReadAt, once to
	// seal it and again per chunk as it is sent (the same bytes every
	// time), from several goroutines.
	Source io.ReaderAt
	Size   int64
	// Name is the file's name in its header (truncated as SimpleX's
	// clients do).
	Name string
	// Servers are xftp:// addresses (an upload password may follow the
	// key hash); each chunk goes to one picked at random, as SimpleX's
	// clients do.
	Servers []string
	// Recipients is the number of recipient descriptions (default 1). Each
	// chunk gets PaddedRecipients of them on its server, so that the
	// server cannot count the audience; the extra IDs stay unused.
	Recipients int
	// RedirectThreshold: a recipient whose web-link fragment would be
	// longer gets a redirect (its description uploaded as a file) when
	// the file has more than one chunk; 0 means simplex.RedirectThreshold,
	// a negative value never redirects.
	RedirectThreshold int

	dial xftpDialer // tests
}

// SimplexUploaded is the result of a SimpleX upload.
type SimplexUploaded struct {
	// Recipients are the recipients' descriptions, Sender the sender's
	// (it deletes the file).
	Recipients []*simplex.Description
	Sender     *simplex.Description
	// Links are the recipients' web links (https://host/#…), in the order
	// of Recipients; a redirect's link when the description was too long.
	Links []string
	// Redirects are the recipients' redirect descriptions (nil where none
	// was needed), RedirectSenders the sender descriptions that delete
	// the redirects' files.
	Redirects       []*simplex.Description
	RedirectSenders []*simplex.Description
	Size            int64 // of the file
	Encrypted       int64 // bytes uploaded, redirects excluded
	Chunks          int
	Servers         int // distinct servers used
	Elapsed         time.Duration
}

// UploadSimplex encrypts req.Source and sends it as SimpleX's clients do,
// so that SimpleX Chat, its web page and its CLI can download it. The
// source is read once to seal it (tag and digests) and again per chunk as
// it is sent; no encrypted copy is made.
func UploadSimplex(ctx context.Context, req SimplexUploadRequest, o Options) (*SimplexUploaded, error) {
	o.defaults()
	start := time.Now()
	if len(req.Servers) == 0 {
		return nil, errors.New("no XFTP server given")
	}
	var addrs []xftp.Address
	for _, s := range req.Servers {
		a, err := xftp.ParseAddress(s)
		if err != nil {
			return nil, err
		}
		addrs = append(addrs, a)
	}
	if req.Recipients <= 0 {
		req.Recipients = 1
	}
	if req.Source == nil {
		return nil, errors.New("no source given")
	}
	if req.Size > simplex.MaxFileSize && o.Warn != nil {
		o.Warn(fmt.Sprintf("the file is larger than %d bytes: SimpleX's apps refuse to send such files and may refuse to receive it", int64(simplex.MaxFileSize)))
	}
	p := newXFTPPool(req.dial)
	defer p.close()
	o.unproven = &unprovenServers{}
	for _, a := range addrs {
		o.unproven.add(a.String())
	}
	if err := p.reach(ctx, &o, addrs); err != nil {
		return nil, err
	}
	name := simplex.TruncateName(req.Name)
	up, err := uploadSimplexFile(ctx, p, &o, addrs, req.Source, req.Size, name, req.Recipients, false)
	if err != nil {
		return nil, err
	}
	res := &SimplexUploaded{Recipients: up.recipients, Sender: up.sender, Size: req.Size,
		Encrypted: up.sender.Size, Chunks: len(up.sender.Chunks), Servers: up.servers}
	threshold := req.RedirectThreshold
	if threshold == 0 {
		threshold = simplex.RedirectThreshold
	}
	for _, rd := range res.Recipients {
		frag, err := rd.Fragment()
		if err != nil {
			return nil, err
		}
		var redirect, redirectSender *simplex.Description
		if threshold > 0 && len(frag) > threshold && len(rd.Chunks) > 1 {
			if redirect, redirectSender, err = uploadSimplexRedirect(ctx, p, &o, addrs, rd); err != nil {
				return nil, fmt.Errorf("uploading the redirect (the file itself is uploaded; its descriptions are complete): %w", err)
			}
			rd = redirect
		}
		link, err := rd.WebLink("")
		if err != nil {
			return nil, err
		}
		res.Links = append(res.Links, link)
		res.Redirects = append(res.Redirects, redirect)
		res.RedirectSenders = append(res.RedirectSenders, redirectSender)
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// uploadSimplexRedirect uploads a recipient description as a file of its
// own and returns the redirect description that leads to it (and its
// sender's), as SimpleX's agent does: one chunk, the smallest that fits.
func uploadSimplexRedirect(ctx context.Context, p *xftpPool, o *Options, addrs []xftp.Address, d *simplex.Description) (*simplex.Description, *simplex.Description, error) {
	y, err := d.Marshal()
	if err != nil {
		return nil, nil, err
	}
	ro := *o
	ro.Progress = nil
	up, err := uploadSimplexFile(ctx, p, &ro, addrs, bytes.NewReader(y), int64(len(y)), "", 1, true)
	if err != nil {
		return nil, nil, err
	}
	r := up.recipients[0]
	r.Redirect = &simplex.Redirect{Size: d.Size, Digest: d.Digest}
	return r, up.sender, nil
}

type simplexUpload struct {
	recipients []*simplex.Description
	sender     *simplex.Description
	servers    int
}

// sentChunk is one uploaded chunk: its server, the sender's ID and key,
// and the recipients' IDs and keys (padded).
type sentChunk struct {
	addr    xftp.Address
	sndID   []byte
	sndKey  ed25519.PrivateKey
	rcvIDs  [][]byte
	rcvKeys []ed25519.PrivateKey
}

func uploadSimplexFile(ctx context.Context, p *xftpPool, o *Options, addrs []xftp.Address, src io.ReaderAt, size int64, name string, recipients int, redirect bool) (*simplexUpload, error) {
	key, nonce, err := simplex.NewKey()
	if err != nil {
		return nil, err
	}
	s, err := simplex.NewSealer(key, nonce, simplex.Header{Name: name}, src, size, redirect)
	if err != nil {
		return nil, err
	}
	if err := s.Seal(); err != nil {
		return nil, err
	}
	sizes := s.ChunkSizes()
	padded := simplex.PaddedRecipients(recipients)
	sent := make([]sentChunk, len(sizes))
	used := map[string]bool{}
	for i := range sent {
		sent[i].addr = addrs[rand.N(len(addrs))]
		used[sent[i].addr.String()] = true
	}
	var done atomic.Int64
	total := s.EncryptedSize()
	err = forEach(ctx, len(sizes), o.Parallel, func(ctx context.Context, i int) error {
		sc := &sent[i]
		size := sizes[i]
		digest := s.ChunkDigest(i)
		retryEvent := func(err error) {
			o.emit(Event{Op: "upload", Chunk: i + 1, Chunks: len(sizes), Bytes: size, Done: done.Load(), Total: total, Retry: true, Err: err})
		}
		var rcvPub []ed25519.PublicKey
		_, sndKey, kerr := ed25519.GenerateKey(nil)
		if kerr != nil {
			return kerr
		}
		sc.sndKey = sndKey
		for range padded {
			pub, priv, err := ed25519.GenerateKey(nil)
			if err != nil {
				return err
			}
			rcvPub = append(rcvPub, pub)
			sc.rcvKeys = append(sc.rcvKeys, priv)
		}
		first := rcvPub[:min(len(rcvPub), simplex.MaxRecipientsPerRequest)]
		err := p.do(ctx, o, sc.addr, func(x xftpServer) error {
			sid, rids, err := x.create(ctx, sc.sndKey, size, digest, first)
			if err == nil && len(rids) != len(first) {
				err = fmt.Errorf("the server returned %d recipient IDs for %d keys", len(rids), len(first))
			}
			sc.sndID, sc.rcvIDs = sid, rids
			return err
		}, retryEvent)
		if err != nil {
			return fmt.Errorf("chunk %d on %s: creating: %w", i+1, redactXFTP(sc.addr), err)
		}
		for rest := rcvPub[len(first):]; len(rest) > 0; {
			batch := rest[:min(len(rest), simplex.MaxRecipientsPerRequest)]
			err := p.do(ctx, o, sc.addr, func(x xftpServer) error {
				rids, err := x.addRecipients(ctx, sc.sndKey, sc.sndID, batch)
				if err == nil && len(rids) != len(batch) {
					err = fmt.Errorf("the server returned %d recipient IDs for %d keys", len(rids), len(batch))
				}
				if err == nil {
					sc.rcvIDs = append(sc.rcvIDs, rids...)
				}
				return err
			}, retryEvent)
			if err != nil {
				return fmt.Errorf("chunk %d on %s: adding recipients: %w", i+1, redactXFTP(sc.addr), err)
			}
			rest = rest[len(batch):]
		}
		err = p.do(ctx, o, sc.addr, func(x xftpServer) error {
			return x.upload(ctx, sc.sndKey, sc.sndID, io.NewSectionReader(s, s.ChunkOffset(i), size), size)
		}, retryEvent)
		if err != nil {
			return fmt.Errorf("chunk %d on %s: uploading: %w", i+1, redactXFTP(sc.addr), err)
		}
		n := done.Add(size)
		o.emit(Event{Op: "upload", Chunk: i + 1, Chunks: len(sizes), Bytes: size, Done: n, Total: total})
		return nil
	})
	if err != nil {
		return nil, err
	}
	base := func(party simplex.Party) *simplex.Description {
		return &simplex.Description{Party: party, Size: s.EncryptedSize(), Digest: s.Digest(), Key: key, Nonce: nonce, ChunkSize: sizes[0]}
	}
	up := &simplexUpload{sender: base(simplex.Sender), servers: len(used)}
	for range recipients {
		up.recipients = append(up.recipients, base(simplex.Recipient))
	}
	for i, sc := range sent {
		srv, err := serverOf(sc.addr)
		if err != nil {
			return nil, err
		}
		c := simplex.Chunk{No: i + 1, Size: sizes[i], Digest: s.ChunkDigest(i)}
		sd := c
		sd.Replicas = []simplex.Replica{{Server: srv, ID: sc.sndID, Key: sc.sndKey}}
		up.sender.Chunks = append(up.sender.Chunks, sd)
		for r, rd := range up.recipients {
			rc := c
			rc.Replicas = []simplex.Replica{{Server: srv, ID: sc.rcvIDs[r], Key: sc.rcvKeys[r]}}
			rd.Chunks = append(rd.Chunks, rc)
		}
	}
	for _, d := range append([]*simplex.Description{up.sender}, up.recipients...) {
		if err := d.Validate(); err != nil {
			return nil, fmt.Errorf("internal error: %w", err)
		}
	}
	return up, nil
}

// DeleteSimplex deletes every chunk of a SimpleX sender description from
// its servers (FDEL). Chunks already gone (deleted or expired: AUTH) count
// as deleted and are returned as gone.
func DeleteSimplex(ctx context.Context, d *simplex.Description, o Options) (gone int, err error) {
	return deleteSimplex(ctx, d, o, nil)
}

func deleteSimplex(ctx context.Context, d *simplex.Description, o Options, dial xftpDialer) (gone int, err error) {
	o.defaults()
	if err := d.Validate(); err != nil {
		return 0, err
	}
	if d.Party != simplex.Sender {
		return 0, errors.New("this is a recipient's description; deleting needs the sender's (snd.xftp.private)")
	}
	p := newXFTPPool(dial)
	defer p.close()
	var already atomic.Int64
	err = forEach(ctx, len(d.Chunks), o.Parallel, func(ctx context.Context, i int) error {
		for _, r := range d.Chunks[i].Replicas {
			a, err := addressOf(r.Server)
			if err != nil {
				return err
			}
			err = p.do(ctx, &o, a, func(s xftpServer) error { return s.remove(ctx, r.Key, r.ID) }, nil)
			if errors.Is(err, xftp.ErrAuth) {
				already.Add(1)
				continue
			}
			if err != nil {
				return fmt.Errorf("chunk %d on %s: %w", i+1, redactXFTP(a), err)
			}
		}
		return nil
	})
	return int(already.Load()), err
}
