package main

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// opFunc performs one operation (one upload or one download) and returns
// the payload bytes it moved. Each worker has its own.
type opFunc func(ctx context.Context) (int64, error)

// loadSpec bounds one measured cell.
type loadSpec struct {
	Warmup   time.Duration
	Duration time.Duration
	MaxOps   int64 // 0: no bound
}

// loadResult is what one cell measured.
type loadResult struct {
	Ops, Bytes    int64
	Elapsed       time.Duration
	Latencies     []time.Duration // sorted
	ServerCPU     time.Duration
	ServerPeakRSS int64
}

// runLoad runs one worker per op concurrently: first a warm-up (at least one
// operation each, so that connections are open), then, from a common start,
// the measured phase until Duration has passed or MaxOps operations have
// started. The server process pid (0: none) is sampled for CPU time and
// peak RSS over the measured phase only. Any failed operation fails the cell.
func runLoad(ctx context.Context, spec loadSpec, pid int, ops []opFunc) (loadResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		warm, done sync.WaitGroup
		start      = make(chan struct{})
		stop       atomic.Bool
		started    atomic.Int64
		errOnce    sync.Once
		firstErr   error
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err })
		stop.Store(true)
	}
	type workerResult struct {
		ops, bytes int64
		lats       []time.Duration
	}
	results := make([]workerResult, len(ops))
	warmEnd := time.Now().Add(spec.Warmup)
	warm.Add(len(ops))
	done.Add(len(ops))
	for i, op := range ops {
		go func() {
			defer done.Done()
			warmed := false
			for !warmed || time.Now().Before(warmEnd) {
				if _, err := op(ctx); err != nil {
					fail(err)
					break
				}
				warmed = true
			}
			warm.Done()
			<-start
			r := &results[i]
			r.lats = make([]time.Duration, 0, 1024)
			for !stop.Load() {
				if spec.MaxOps > 0 && started.Add(1) > spec.MaxOps {
					break
				}
				t := time.Now()
				n, err := op(ctx)
				if err != nil {
					fail(err)
					break
				}
				r.lats = append(r.lats, time.Since(t))
				r.ops++
				r.bytes += n
			}
		}()
	}
	warm.Wait()
	if firstErr != nil {
		close(start)
		done.Wait()
		return loadResult{}, firstErr
	}
	stats := startServerStats(pid)
	t0 := time.Now()
	close(start)
	timer := time.AfterFunc(spec.Duration, func() { stop.Store(true) })
	done.Wait()
	timer.Stop()
	res := loadResult{Elapsed: time.Since(t0)}
	res.ServerCPU, res.ServerPeakRSS = stats.finish()
	if firstErr != nil {
		return res, firstErr
	}
	for _, r := range results {
		res.Ops += r.ops
		res.Bytes += r.bytes
		res.Latencies = append(res.Latencies, r.lats...)
	}
	slices.Sort(res.Latencies)
	if res.Ops == 0 {
		return res, errors.New("no operation completed")
	}
	return res, nil
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)-1))
	return sorted[i]
}

// drain reads r to the end with buf, the way a client that writes to a file
// would, and returns the byte count. It does not use io.Copy to io.Discard,
// which would read with io.Discard's own 8 KiB buffers.
func drain(r io.Reader, buf []byte) (int64, error) {
	var n int64
	for {
		m, err := r.Read(buf)
		n += int64(m)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
