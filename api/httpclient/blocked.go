package httpclient

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/xftp/xftp/api"
	"github.com/xftp/xftp/blocklist"
)

// maxBlockedBody caps a 451 body the client reads; a record's wire form is
// at most about 2 KiB.
const maxBlockedBody = 8 << 10

// ErrInvalidBlockingRecord means a server answered 451 without a record
// that verifies: unsigned, forged, from another server or for another
// chunk. It is an error of that server, not a block.
var ErrInvalidBlockingRecord = errors.New("invalid blocking record")

// BlockingRecordError is a 451 answer whose record did not verify.
type BlockingRecordError struct {
	Server api.Address
	Err    error // why: a blocklist error, or a malformed body
}

func (e *BlockingRecordError) Error() string {
	return fmt.Sprintf("server %s sent an invalid blocking record (%v); this is an error of that server, not a verified block", e.Server.Redacted(), e.Err)
}

// Unwrap returns ErrInvalidBlockingRecord and the cause.
func (e *BlockingRecordError) Unwrap() []error { return []error{ErrInvalidBlockingRecord, e.Err} }

// blocked turns a 451 answer to a request about chunkID (an ID, or the
// digest of a create) into *blocklist.BlockedError if its record verifies
// against the pinned fingerprint and chunkID, and into
// *BlockingRecordError otherwise.
func (c *Client) blocked(resp *http.Response, chunkID []byte) error {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBlockedBody+1))
	if err != nil {
		return err // the connection failed; not a verdict about the record
	}
	var br api.BlockedResponse
	switch {
	case len(b) > maxBlockedBody:
		return &BlockingRecordError{Server: c.addr, Err: errors.New("answer too large")}
	case json.Unmarshal(b, &br) != nil || br.Error != api.CodeBlocked:
		return &BlockingRecordError{Server: c.addr, Err: errors.New("malformed answer")}
	case len(br.Record) == 0:
		return &BlockingRecordError{Server: c.addr, Err: errors.New("no record")}
	case len(chunkID) == 0:
		return &BlockingRecordError{Server: c.addr, Err: errors.New("a block answer to a request about no chunk")}
	}
	rec, err := blocklist.Verify(br.Record, c.addr.Fingerprint, chunkID)
	if err != nil {
		return &BlockingRecordError{Server: c.addr, Err: err}
	}
	return &blocklist.BlockedError{Record: rec}
}
