package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// fileSection uploads and downloads one file through the xftp command (the
// client engine) across cfg.Servers xftpd processes. The client runs as a
// child process, so its peak RSS is its own (wait4 rusage).
func fileSection(ctx context.Context, cfg *config, dir string, logf func(string, ...any)) ([]row, error) {
	var addrs []string
	for i := range cfg.Servers {
		srv, addr, err := startXftpd(cfg.XftpdBin, dir, fmt.Sprintf("file-%d", i+1), backendConfig{})
		if err != nil {
			return nil, err
		}
		defer stopXftpd(srv, dir)
		addrs = append(addrs, addr.String())
	}
	in := filepath.Join(dir, "file.bin")
	sum, err := writeRandomFile(in, cfg.FileSize)
	if err != nil {
		return nil, err
	}
	defer os.Remove(in)
	var rows []row
	// The same file with no parity and with 4+2 striping, side by side.
	for _, shards := range [][2]int{{1, 0}, {4, 2}} {
		if shards[0]+shards[1] > cfg.Servers {
			rows = append(rows, row{Section: "file", Op: "upload+download", Size: cfg.FileSize,
				Note: fmt.Sprintf("%d+%d: needs %d servers, have %d", shards[0], shards[1], shards[0]+shards[1], cfg.Servers)})
			continue
		}
		note := fmt.Sprintf("%d xftpd, %d+%d", cfg.Servers, shards[0], shards[1])
		if shards[1] == 0 {
			note = fmt.Sprintf("%d xftpd, no parity", cfg.Servers)
		}
		descDir := filepath.Join(dir, fmt.Sprintf("file-%d-%d.xftp", shards[0], shards[1]))
		args := []string{"upload", in, "--out", descDir, "-q", "--data-shards", fmt.Sprint(shards[0]), "--parity-shards", fmt.Sprint(shards[1])}
		for _, a := range addrs {
			args = append(args, "--server", a)
		}
		up, err := clientRun(ctx, cfg.XftpBin, args, "upload", cfg.FileSize)
		if err != nil {
			return rows, err
		}
		up.Note = note
		rows = append(rows, up)
		logf("%s", shortLine(up))
		out := filepath.Join(dir, "file.out")
		down, err := clientRun(ctx, cfg.XftpBin, []string{"download", filepath.Join(descDir, "rcv1.xftp"), "-o", out, "-q"}, "download", cfg.FileSize)
		if err != nil {
			return rows, err
		}
		got, err := fileSum(out)
		os.Remove(out)
		if err != nil {
			return rows, err
		}
		if got != sum {
			return rows, fmt.Errorf("the downloaded file differs from the uploaded one")
		}
		down.Note = note + ", verified"
		rows = append(rows, down)
		logf("%s", shortLine(down))
	}
	return rows, nil
}

// clientRun runs the xftp command and reports its wall time, CPU time and
// peak RSS.
func clientRun(ctx context.Context, bin string, args []string, op string, size int64) (row, error) {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = childEnv()
	cmd.Stderr = &stderr
	t := time.Now()
	if err := cmd.Start(); err != nil {
		return row{}, err
	}
	// wait4's ru_maxrss would count the bench's own pages, which the child
	// shares between fork and exec; poll the child's VmHWM instead (it only
	// grows, so the last reading is the peak up to the last 20 ms).
	var hwm atomic.Int64
	stop := make(chan struct{})
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			if peak, err := procPeakRSS(cmd.Process.Pid); err == nil && peak > hwm.Load() {
				hwm.Store(peak)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	err := cmd.Wait()
	close(stop)
	<-polled
	el := time.Since(t)
	if err != nil {
		return row{}, fmt.Errorf("xftp %s: %v: %s", op, err, strings.TrimSpace(stderr.String()))
	}
	rw := row{Section: "file", Op: op, Size: size, Ops: 1, Seconds: el.Seconds(), MBps: float64(size) / 1e6 / el.Seconds()}
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	rw.CPUPerGB = cpu.Seconds() / (float64(size) / 1e9)
	rw.PeakRSSMiB = float64(hwm.Load()) / (1 << 20)
	rw.Note = fmt.Sprintf("%.1fs", el.Seconds())
	return rw, nil
}

func writeRandomFile(path string, size int64) ([32]byte, error) {
	f, err := os.Create(path)
	if err != nil {
		return [32]byte{}, err
	}
	defer f.Close()
	var seed [32]byte
	copy(seed[:], randHex(16))
	src := rand.NewChaCha8(seed)
	h := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	if _, err := io.CopyN(w, src, size); err != nil {
		return [32]byte{}, err
	}
	if err := w.Flush(); err != nil {
		return [32]byte{}, err
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum, f.Close()
}

func fileSum(path string) ([32]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return [32]byte{}, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyBuffer(h, f, make([]byte, 1<<20)); err != nil {
		return [32]byte{}, err
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum, nil
}
