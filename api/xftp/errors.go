package xftp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// Error is an XFTP error type as the protocol names it: "AUTH", "SIZE",
// "CMD SYNTAX", "BLOCKED reason=spam" and so on. Servers send it in an ERR
// response (or, during the handshake, as a raw padded string); clients
// return it. errors.Is(err, ErrAuth) matches by code (and CMD's sub-code;
// ErrBlocked matches any blocking reason).
type Error struct {
	// Code is one of the Code* constants.
	Code string
	// Cmd is CMD's sub-code (one of the Cmd* constants), empty otherwise.
	Cmd string
	// Blocked is BLOCKED's blocking information, nil otherwise.
	Blocked *BlockingInfo
}

// Error codes (simplexmq FileTransfer.Transport.XFTPErrorType).
const (
	CodeBlock     = "BLOCK"     // a block or transmission that does not parse
	CodeSession   = "SESSION"   // a wrong or missing session
	CodeHandshake = "HANDSHAKE" // a failed handshake
	CodeCmd       = "CMD"       // a command error (Cmd says which)
	CodeAuth      = "AUTH"      // unknown ID, bad signature, or not allowed
	CodeBlocked   = "BLOCKED"   // taken down by the operator (v3 and later)
	CodeSize      = "SIZE"      // a chunk size the server does not take, or a body of the wrong size
	CodeQuota     = "QUOTA"     // the server's storage quota is spent
	CodeDigest    = "DIGEST"    // the body does not match the digest given at FNEW
	CodeCrypto    = "CRYPTO"    // a decryption failed (client side)
	CodeNoFile    = "NO_FILE"   // FGET before FPUT
	CodeHasFile   = "HAS_FILE"  // the file is already there
	CodeFileIO    = "FILE_IO"   // the server failed to store or read the body
	CodeTimeout   = "TIMEOUT"   // the body did not arrive in time
	CodeInternal  = "INTERNAL"  // anything else
)

// CMD sub-codes.
const (
	CmdUnknown    = "UNKNOWN"
	CmdSyntax     = "SYNTAX"
	CmdProhibited = "PROHIBITED"
	CmdNoAuth     = "NO_AUTH"
	CmdHasAuth    = "HAS_AUTH"
	CmdNoEntity   = "NO_ENTITY"
)

// Sentinels for errors.Is.
var (
	ErrBlock     = &Error{Code: CodeBlock}
	ErrSession   = &Error{Code: CodeSession}
	ErrHandshake = &Error{Code: CodeHandshake}
	ErrAuth      = &Error{Code: CodeAuth}
	ErrBlocked   = &Error{Code: CodeBlocked}
	ErrSize      = &Error{Code: CodeSize}
	ErrQuota     = &Error{Code: CodeQuota}
	ErrDigest    = &Error{Code: CodeDigest}
	ErrCrypto    = &Error{Code: CodeCrypto}
	ErrNoFile    = &Error{Code: CodeNoFile}
	ErrHasFile   = &Error{Code: CodeHasFile}
	ErrFileIO    = &Error{Code: CodeFileIO}
	ErrTimeout   = &Error{Code: CodeTimeout}
	ErrInternal  = &Error{Code: CodeInternal}
)

// CmdError returns the CMD error with sub-code sub.
func CmdError(sub string) *Error { return &Error{Code: CodeCmd, Cmd: sub} }

// BlockedError returns the BLOCKED error carrying info.
func BlockedError(info BlockingInfo) *Error { return &Error{Code: CodeBlocked, Blocked: &info} }

func (e *Error) Error() string { return "xftp: " + string(e.Encode()) }

// Is matches by code; a CMD target with a sub-code matches only that sub-code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && (t.Cmd == "" || t.Cmd == e.Cmd)
}

// Temporary reports whether a client may retry: SESSION and HANDSHAKE
// (after reconnecting), as SimpleX's clients do; everything else is final.
func (e *Error) Temporary() bool { return e.Code == CodeSession || e.Code == CodeHandshake }

// BlockingInfo is why a file was blocked: reason "spam" or "content",
// and optionally how long the client should keep the notice.
type BlockingInfo struct {
	Reason string
	// NoticeTTL is the notice's "ttl" in seconds; nil: no notice.
	Notice *ClientNotice
}

// ClientNotice is BLOCKED's optional notice: {"ttl":N}, or {} for none.
type ClientNotice struct {
	TTL *int64 `json:"ttl,omitempty"`
}

// Blocking reasons.
const (
	ReasonSpam    = "spam"
	ReasonContent = "content"
)

// Encode returns the error as it follows "ERR " on the wire.
func (e *Error) Encode() []byte {
	switch e.Code {
	case CodeCmd:
		return []byte(CodeCmd + " " + e.Cmd)
	case CodeBlocked:
		info := BlockingInfo{Reason: ReasonContent}
		if e.Blocked != nil {
			info = *e.Blocked
		}
		return append([]byte(CodeBlocked+" "), info.Encode()...)
	}
	return []byte(e.Code)
}

// Encode returns "reason=R" or "reason=R,notice={...}".
func (b BlockingInfo) Encode() []byte {
	out := []byte("reason=" + b.Reason)
	if b.Notice != nil {
		j, _ := json.Marshal(b.Notice) // cannot fail
		out = append(append(out, ",notice="...), j...)
	}
	return out
}

var knownCodes = map[string]bool{
	CodeBlock: true, CodeSession: true, CodeHandshake: true, CodeAuth: true, CodeSize: true,
	CodeQuota: true, CodeDigest: true, CodeCrypto: true, CodeNoFile: true, CodeHasFile: true,
	CodeFileIO: true, CodeTimeout: true, CodeInternal: true, "DUPLICATE_": true,
}

var cmdCodes = map[string]string{
	CmdUnknown: CmdUnknown, CmdSyntax: CmdSyntax, CmdProhibited: CmdProhibited,
	CmdNoAuth: CmdNoAuth, CmdHasAuth: CmdHasAuth, CmdNoEntity: CmdNoEntity,
	"NO_QUEUE": CmdNoEntity, // an older name
}

// ParseError parses what follows "ERR " (the whole rest of the message).
func ParseError(b []byte) (*Error, error) {
	code, rest, hasRest := bytes.Cut(b, []byte{' '})
	switch c := string(code); {
	case c == CodeCmd && hasRest:
		sub, ok := cmdCodes[string(rest)]
		if !ok {
			return nil, fmt.Errorf("%w: CMD error %q", ErrMalformed, rest)
		}
		return CmdError(sub), nil
	case c == CodeBlocked && hasRest:
		info, err := ParseBlockingInfo(rest)
		if err != nil {
			return nil, err
		}
		return BlockedError(info), nil
	case knownCodes[c] && !hasRest:
		return &Error{Code: c}, nil
	}
	return nil, fmt.Errorf("%w: error type %q", ErrMalformed, b)
}

// ParseBlockingInfo parses "reason=spam|content[,notice=JSON]".
func ParseBlockingInfo(b []byte) (BlockingInfo, error) {
	var info BlockingInfo
	rest, ok := bytes.CutPrefix(b, []byte("reason="))
	if !ok {
		return info, fmt.Errorf("%w: blocking info %q", ErrMalformed, b)
	}
	for _, r := range []string{ReasonSpam, ReasonContent} {
		if after, ok := bytes.CutPrefix(rest, []byte(r)); ok {
			info.Reason, rest = r, after
			break
		}
	}
	if info.Reason == "" {
		return info, fmt.Errorf("%w: blocking reason in %q", ErrMalformed, b)
	}
	if len(rest) == 0 {
		return info, nil
	}
	j, ok := bytes.CutPrefix(rest, []byte(",notice="))
	if !ok {
		return info, fmt.Errorf("%w: blocking info %q", ErrMalformed, b)
	}
	var n ClientNotice
	if err := json.Unmarshal(j, &n); err != nil {
		return info, fmt.Errorf("%w: blocking notice: %v", ErrMalformed, err)
	}
	info.Notice = &n
	return info, nil
}

// NoticeTTL returns a notice asking clients to keep it for secs seconds.
func NoticeTTL(secs int64) *ClientNotice { return &ClientNotice{TTL: &secs} }

// String shows the notice as its JSON.
func (n ClientNotice) String() string {
	if n.TTL == nil {
		return "{}"
	}
	return `{"ttl":` + strconv.FormatInt(*n.TTL, 10) + "}"
}
