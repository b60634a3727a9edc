package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/dustin/go-humanize"
)

func printReport(w io.Writer, rep *report) {
	m := rep.Machine
	c := rep.Config
	fmt.Fprintf(w, "xftp-bench  %s  took %s\n", m.Started, m.Took)
	fmt.Fprintf(w, "machine: %d CPUs (GOMAXPROCS %d), %s, kernel %s, %s\n", m.NumCPU, m.GOMAXPROCS, m.CPU, m.Kernel, m.Go)
	fmt.Fprintf(w, "load average: %s at start, %s at end\n", m.LoadStart, m.LoadEnd)
	clients := "one client (one TLS connection) per worker"
	if c.Shared {
		clients = "one client shared by all workers (one TLS connection)"
	}
	fmt.Fprintf(w, "cells: %s warm-up + %s measured (at most %d ops); %s; MB = 10^6 bytes\n", c.Warmup, c.Duration, c.MaxOps, clients)
	fmt.Fprintln(w, "CPU s/GB and peak RSS: server process over the measured phase (file rows: the xftp client process)")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "section\top\tsize\tconc\tMB/s\tops/s\tp50 ms\tp99 ms\tCPU s/GB\tpeak RSS MiB\tratio\t")
	for _, r := range rep.Rows {
		size := ""
		if r.Size > 0 {
			size = humanize.IBytes(uint64(r.Size))
		}
		conc := ""
		if r.Conc > 0 {
			conc = fmt.Sprint(r.Conc)
		}
		switch {
		case r.Err != "":
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\terror\t\t\t\t\t\t\t %s\n", r.Section, r.Op, size, conc, oneLine(r.Err))
			continue
		case r.Note != "" && r.Ops == 0:
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\t\t\t\t\t\t\t %s\n", r.Section, r.Op, size, conc, r.Note)
			continue
		}
		ratio := ""
		if r.RatioTo != "" {
			ratio = fmt.Sprintf("%.2f", r.Ratio)
		}
		p50, p99, ops := fmt.Sprintf("%.1f", r.P50ms), fmt.Sprintf("%.1f", r.P99ms), fmt.Sprintf("%.0f", r.OpsPerSec)
		if r.Section == "file" {
			p50, p99, ops = "", "", ""
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t", r.Section, r.Op, size, conc, r.MBps, ops, p50, p99,
			orDash(r.CPUPerGB, "%.2f"), orDash(r.PeakRSSMiB, "%.0f"), ratio)
		if r.Note != "" {
			fmt.Fprintf(tw, " %s", r.Note)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nratio: minimum, xftpd-disk, xftp-minimum and xftpd-xftp / ceiling, xftpd-s3 / minio-direct (MB/s, same size, op and concurrency, measured just before)")
	fmt.Fprintln(w, "minimum: the ceiling's server doing only the work the protocol requires per chunk (upload: one Ed25519 verify, SHA-256, durable write;")
	fmt.Fprintln(w, "download: one Ed25519 verify, X25519, a signed key, the stored body sealed for the request), with the client's side of it")
	fmt.Fprintln(w, "xftp-minimum: the same for SimpleX's XFTP over its transport (TLS 1.2 ChaCha20-Poly1305, 16 KiB blocks; download sealed with")
	fmt.Fprintln(w, "XSalsa20-Poly1305); xftpd-xftp: xftpd through its XFTP binding (upload = FNEW + FPUT, download = FGET), one session per worker")
}

func orDash(v float64, f string) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf(f, v)
}

func oneLine(s string) string {
	for i, c := range s {
		if c == '\n' {
			s = s[:i] + " ..."
			break
		}
	}
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
