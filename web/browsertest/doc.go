// Package browsertest is the end-to-end test of the download page in a
// real, headless Chromium (Debian's chromium package, driven over the
// DevTools protocol by chromedp): it builds xftpd and xftp from the
// repository, runs relays on loopback with a web certificate from a test
// CA, uploads with the CLI, opens the printed link, and checks the saved
// bytes and the page in its success and blocked states. It also runs
// SimpleX's own web client, xftp-web, in a page on another origin against
// xftpd's XFTP binding (upload, download, delete, CORS), see xftpweb_test.go.
//
// It is a module of its own so that chromedp stays out of the main
// module's dependencies; scripts/test runs it. See docs/WEB.md.
package browsertest
