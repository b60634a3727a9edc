// Package e2e holds end-to-end tests that build the real xftpd and xftp
// binaries and run them as processes on loopback.
package e2e
