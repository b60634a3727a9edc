package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/xftp/xftp/blocklist"
)

// StatusBlocked is the HTTP status of a blocked chunk: 451 Unavailable For
// Legal Reasons (RFC 7725).
const StatusBlocked = http.StatusUnavailableForLegalReasons

// BlockedResponse is the body of a 451 answer (see docs/TAKEDOWNS.md):
// {"error":"BLOCKED","record":"<unpadded base64url of the record's wire
// form>"}. The record names the ID of the request (or, when a create is
// refused, the digest it sent) and is signed by the server identity.
type BlockedResponse struct {
	Error  string `json:"error"`
	Record B64    `json:"record"`
}

// maxBlockedBody caps a 451 body the client reads; a record's wire form is
// at most about 2 KiB.
const maxBlockedBody = 8 << 10

// errorBody is the JSON body of the error answer for err with code.
func errorBody(err error, code string) any {
	var be *blocklist.BlockedError
	if code == CodeBlocked && errors.As(err, &be) && be.Record != nil {
		return BlockedResponse{Error: CodeBlocked, Record: be.Record.Marshal()}
	}
	return ErrorResponse{Error: code}
}

// ErrInvalidBlockingRecord means a server answered 451 without a record
// that verifies: unsigned, forged, from another server or for another
// chunk. It is an error of that server, not a block.
var ErrInvalidBlockingRecord = errors.New("invalid blocking record")

// BlockingRecordError is a 451 answer whose record did not verify.
type BlockingRecordError struct {
	Server Address
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
	var br BlockedResponse
	switch {
	case len(b) > maxBlockedBody:
		return &BlockingRecordError{Server: c.addr, Err: errors.New("answer too large")}
	case json.Unmarshal(b, &br) != nil || br.Error != CodeBlocked:
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
