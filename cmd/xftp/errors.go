package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"strings"
	"syscall"

	"github.com/xftp/xftp/identity"
)

// failed wraps a command's error with what failed ("upload of f.bin"), so
// the one line a user sees keeps that context when the cause is reworded.
type failed struct {
	what string
	err  error
}

func (f *failed) Error() string { return f.what + " failed: " + f.err.Error() }
func (f *failed) Unwrap() error { return f.err }

func fail(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return &failed{what: fmt.Sprintf(format, args...), err: err}
}

// describeError turns an error into the one line a user sees: what failed,
// the cause and the fix. Transport errors are reworded (no Go request
// syntax, URLs or challenges); everything else keeps its own text, which
// already says it in our words. -v adds err.Error(), the whole chain.
func describeError(err error) string {
	details := err.Error()
	what := ""
	var f *failed
	if errors.As(err, &f) {
		what = f.what + " failed: "
	}
	if cause := shortCause(err); cause != "" {
		return what + cause
	}
	// Unclassified: the full text, with Go's `Get "https://…": ` removed.
	line := details
	var ue *url.Error
	if errors.As(err, &ue) {
		line = strings.Replace(line, ue.Error(), hostOf(ue)+": "+ue.Err.Error(), 1)
	}
	return line
}

// shortCause names a transport failure's cause and fix in a few words, or
// returns "" for errors that are not one.
func shortCause(err error) string {
	host := "the server"
	var ue *url.Error
	var oe *net.OpError
	switch {
	case errors.As(err, &ue):
		host = hostOf(ue)
	case errors.As(err, &oe) && oe.Addr != nil:
		host = oe.Addr.String() // the XFTP client's dial, not a request
	}
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var hostErr x509.HostnameError
	var recErr tls.RecordHeaderError
	var pathErr *fs.PathError
	switch {
	case errors.Is(err, context.Canceled):
		return "interrupted"
	case errors.Is(err, identity.ErrWrongIdentity):
		return "server identity check failed: " + host + " is not the server the address's fingerprint names; copy the address again from xftpd's output (or its DATA/address)"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "cannot connect to " + host + " (connection refused): is xftpd running there, and is the port in the address right?"
	case errors.As(err, &dnsErr):
		return "cannot find the host " + dnsErr.Name + ": check the host name in the address"
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return host + " did not answer in time: check the address and the network (a firewall may drop the connection)"
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH):
		return "cannot reach " + host + " (connection lost or no route): check the address and the network"
	case errors.As(err, &recErr):
		return host + " does not speak TLS: is it an xftpd behind a TLS proxy? Use the proxy's address"
	case errors.As(err, &certErr) || errors.As(err, &hostErr):
		return host + "'s certificate is not valid for it: " + err.Error()
	case errors.As(err, &pathErr) && errors.Is(err, fs.ErrNotExist):
		return pathErr.Path + ": no such file"
	case errors.As(err, &pathErr) && errors.Is(err, fs.ErrPermission):
		return pathErr.Path + ": permission denied"
	}
	return ""
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// hostOf is the HOST:PORT a request went to.
func hostOf(ue *url.Error) string {
	if u, err := url.Parse(ue.URL); err == nil && u.Host != "" {
		return u.Host
	}
	return "the server"
}

// usageError reports whether err is cobra's or pflag's complaint about the
// command line (arguments, flags), which the command's help answers.
func usageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"accepts ", "requires ", "unknown flag", "unknown shorthand flag", "unknown command",
		"invalid argument", "flag needs an argument", "bad flag syntax"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// oneLine folds a message onto one line: cobra's suggestions come on lines
// of their own ("unknown command ...\n\nDid you mean this?\n\tupload"),
// and pflag's number errors carry strconv's wording.
func oneLine(msg string) string {
	if i := strings.Index(msg, " flag: strconv.Parse"); i >= 0 {
		msg = msg[:i] + " flag: not a number"
	}
	if !strings.Contains(msg, "\n") {
		return msg
	}
	msg = strings.ReplaceAll(msg, "\n\nDid you mean this?\n", "; did you mean")
	msg = strings.Join(strings.Fields(strings.ReplaceAll(msg, "\n", "; ")), " ")
	return strings.TrimSuffix(msg, ";")
}
