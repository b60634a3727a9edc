// Command xftp-bench measures xftpd on loopback against the ceiling of the
// machine it runs on: a bare HTTP/2 TLS server with the same settings, and
// minio-go straight to the same MinIO. It starts everything it needs,
// prints one table for one run, and can write the results as JSON.
//
// See docs/BENCHMARKS.md for a run and how to read it.
package main
