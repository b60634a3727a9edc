// Package web is the download page that xftpd serves at /d/: a recipient
// opens https://HOST/d/#xftp:file:1:… and the page fetches the chunks from
// the relays named in the link, verifies and decrypts them in the browser
// with our own Go code compiled to WebAssembly (web/wasm, package
// web/recv), and saves the file. The part after '#' never reaches a
// server. See docs/WEB.md.
//
// The assets are embedded: static/index.html, app.js, style.css,
// wasm_exec.js (from the Go toolchain that built the module) and
// xftp.wasm.gz, which 'go generate ./web' rebuilds; a test fails when they
// are stale.
package web

//go:generate go run gen.go
