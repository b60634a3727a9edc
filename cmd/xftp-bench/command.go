package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"
)

// config is one run's settings.
type config struct {
	Duration time.Duration `json:"duration_ns"`
	Warmup   time.Duration `json:"warmup_ns"`
	MaxOps   int64         `json:"max_ops"`
	Sizes    []int64       `json:"sizes"`
	Conc     []int         `json:"concurrency"`
	S3Conc   []int         `json:"s3_concurrency"`
	FileSize int64         `json:"file_size"`
	Servers  int           `json:"file_servers"`
	Shared   bool          `json:"shared_client"`
	Ops      []string      `json:"ops"`
	Repeat   int           `json:"repeat"`
	NoS3     bool          `json:"-"`
	NoFile   bool          `json:"-"`
	NoXFTP   bool          `json:"no_xftp,omitempty"`
	Quick    bool          `json:"quick"`
	JSON     string        `json:"-"`
	XftpdBin string        `json:"-"`
	XftpBin  string        `json:"-"`
	MinioBin string        `json:"-"`
	Keep     bool          `json:"-"`
}

func newCommand() *cobra.Command {
	var (
		cfg                     config
		sizes, conc, s3c, fsize string
		ops                     string
	)
	cmd := &cobra.Command{
		Use:   "xftp-bench",
		Short: "Measure xftpd on loopback against the machine's ceiling",
		Long: `xftp-bench starts what it needs on loopback (a bare HTTP/2 TLS server, xftpd
processes, MinIO and Redis) and prints one table for one run:

  ceiling       bare HTTP/2 TLS server with xftpd's listener settings
  minimum       the same server doing only the work the protocol requires
  xftpd-disk    xftpd, disk store: create+upload, download (re-encrypted)
  xftp-minimum  the minimum for SimpleX's XFTP, over XFTP's transport
  xftpd-xftp    the same xftpd through its XFTP binding: FNEW+FPUT, FGET
  minio-direct  minio-go PutObject/GetObject straight to MinIO
  xftpd-s3      xftpd on the same MinIO, records in Redis
  file          whole files through the xftp client across several xftpd

Every xftpd figure is also given as a ratio to its baseline, measured right
before it. MB is 10^6 bytes. See docs/BENCHMARKS.md.`,
		Args:          cobra.NoArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fl := cmd.Flags()
			if cfg.Quick {
				def := func(name string, set func()) {
					if !fl.Changed(name) {
						set()
					}
				}
				def("duration", func() { cfg.Duration = time.Second })
				def("warmup", func() { cfg.Warmup = 300 * time.Millisecond })
				def("conc", func() { conc = "1,8" })
				def("s3-conc", func() { s3c = "8" })
				def("file-size", func() { fsize = "256MiB" })
			}
			var err error
			if cfg.Sizes, err = parseSizes(sizes); err != nil {
				return fmt.Errorf("--sizes: %w", err)
			}
			if cfg.Conc, err = parseInts(conc); err != nil {
				return fmt.Errorf("--conc: %w", err)
			}
			if cfg.Ops, err = parseOps(ops); err != nil {
				return fmt.Errorf("--ops: %w", err)
			}
			if cfg.Repeat < 1 {
				return fmt.Errorf("--repeat: %d is not a positive number", cfg.Repeat)
			}
			if cfg.S3Conc, err = parseInts(s3c); err != nil {
				return fmt.Errorf("--s3-conc: %w", err)
			}
			fs, err := humanize.ParseBytes(fsize)
			if err != nil {
				return fmt.Errorf("--file-size: %w", err)
			}
			cfg.FileSize = int64(fs)
			return run(cmd.Context(), &cfg, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.DurationVar(&cfg.Duration, "duration", 5*time.Second, "measured time per cell")
	fl.DurationVar(&cfg.Warmup, "warmup", time.Second, "warm-up time per cell (not measured)")
	fl.Int64Var(&cfg.MaxOps, "max-ops", 200000, "at most this many operations per cell")
	fl.StringVar(&sizes, "sizes", "64KiB,4MiB", "chunk sizes")
	fl.StringVar(&conc, "conc", "1,8,64", "concurrent clients, ceiling and xftpd-disk")
	fl.StringVar(&s3c, "s3-conc", "8,64", "concurrent clients, MinIO cells")
	fl.StringVar(&ops, "ops", "upload,download", "operations, ceiling, minimum and xftpd-disk cells")
	fl.IntVar(&cfg.Repeat, "repeat", 1, "measure each ceiling, minimum and xftpd cell this many times, alternating, and print the run with the median ratio (and the range)")
	fl.StringVar(&fsize, "file-size", "1GiB", "file size for the whole-file round trip")
	fl.IntVar(&cfg.Servers, "file-servers", 6, "xftpd processes the file is spread over")
	fl.BoolVar(&cfg.Shared, "shared-client", false, "one client (one connection) shared by all workers instead of one per worker")
	fl.BoolVar(&cfg.NoS3, "no-s3", false, "skip the MinIO/Redis cells")
	fl.BoolVar(&cfg.NoFile, "no-file", false, "skip the whole-file round trip")
	fl.BoolVar(&cfg.NoXFTP, "no-xftp", false, "skip the XFTP cells (xftp-minimum, xftpd-xftp)")
	fl.BoolVar(&cfg.Quick, "quick", false, "about a minute: 1s cells, concurrency 1,8 (S3: 8), 256 MiB file")
	fl.StringVar(&cfg.JSON, "json", "", "also write the results as JSON to this file")
	fl.StringVar(&cfg.XftpdBin, "xftpd", "", "xftpd binary (default: go build ./cmd/xftpd)")
	fl.StringVar(&cfg.XftpBin, "xftp", "", "xftp binary (default: go build ./cmd/xftp)")
	fl.StringVar(&cfg.MinioBin, "minio", "", "minio binary when XFTP_TEST_S3_* is not set (default: ~/.cache/xftp/minio-*/minio)")
	fl.BoolVar(&cfg.Keep, "keep", false, "keep the scratch directory (logs, data)")
	cmd.AddCommand(profileCommand(), soakCommand(), scaleoutCommand(), attackCommand())
	return cmd
}

func parseSizes(s string) ([]int64, error) {
	var out []int64
	for _, f := range strings.Split(s, ",") {
		n, err := humanize.ParseBytes(strings.TrimSpace(f))
		if err != nil || n == 0 {
			return nil, fmt.Errorf("%q is not a size", f)
		}
		out = append(out, int64(n))
	}
	return out, nil
}

func parseOps(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		switch f = strings.TrimSpace(f); f {
		case "upload", "download":
			out = append(out, f)
		case "":
		default:
			return nil, fmt.Errorf("%q is not upload or download", f)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no operations")
	}
	return out, nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}
