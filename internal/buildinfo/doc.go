// Package buildinfo says which build of xftp is running, for the binaries'
// --version.
package buildinfo
