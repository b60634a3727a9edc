package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is USER_HZ, which is 100 on every Linux architecture Go runs on.
const clockTick = 100

// procCPU returns the user+system CPU time a process has used so far.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name in field 2 may contain spaces; fields after it
	// start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return time.Duration(ut+st) * time.Second / clockTick, nil
}

// procPeakRSS returns VmHWM, the peak resident set size, in bytes.
func procPeakRSS(pid int) (int64, error) {
	m, err := procMemory(pid)
	return m.hwm, err
}

// procMem is a process's resident memory, in bytes.
type procMem struct {
	rss, hwm, anon, file int64 // VmRSS, VmHWM, RssAnon, RssFile
}

// procMemory reads a process's resident memory from /proc/PID/status.
func procMemory(pid int) (procMem, error) {
	var m procMem
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, err
	}
	defer f.Close()
	fields := map[string]*int64{"VmRSS": &m.rss, "VmHWM": &m.hwm, "RssAnon": &m.anon, "RssFile": &m.file}
	found := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		dst, ok := fields[k]
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return m, fmt.Errorf("malformed %s %q in /proc/%d/status", k, v, pid)
		}
		*dst = kb << 10
		found++
	}
	if err := sc.Err(); err != nil {
		return m, err
	}
	if found != len(fields) {
		return m, fmt.Errorf("/proc/%d/status lacks one of VmRSS, VmHWM, RssAnon, RssFile", pid)
	}
	return m, nil
}

// resetPeakRSS sets a process's VmHWM back to its current RSS, so that the
// next reading is the peak of what follows (Linux clear_refs, value 5).
func resetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// loadAvg returns the 1, 5 and 15 minute load averages as printed by the kernel.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// serverStats samples one server process around a measured cell.
type serverStats struct {
	pid    int
	cpu0   time.Duration
	rssErr error
}

func startServerStats(pid int) *serverStats {
	if pid == 0 {
		return nil
	}
	s := &serverStats{pid: pid}
	s.rssErr = resetPeakRSS(pid)
	s.cpu0, _ = procCPU(pid)
	return s
}

// finish returns the CPU time used since start and the peak RSS since
// start (or since the process began, if it could not be reset).
func (s *serverStats) finish() (cpu time.Duration, peak int64) {
	if s == nil {
		return 0, 0
	}
	c, err := procCPU(s.pid)
	if err == nil {
		cpu = c - s.cpu0
	}
	peak, _ = procPeakRSS(s.pid)
	return cpu, peak
}
