// Load: runs one operation from N concurrent workers for a bounded time and count, and measures rate, latency and CPU.

package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Rate is one measured phase: how many operations completed, how fast, how
// long each took, and the CPU time each cost every process involved.
type Rate struct {
	Users     int     `json:"users"`
	Count     int     `json:"count"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"per_second"`
	P50ms     float64 `json:"p50_ms"`
	P99ms     float64 `json:"p99_ms"`
	CPU       CPU     `json:"cpu_us_per_op"`
}

// CPU is CPU time per operation in microseconds, by process: the
// benchmark's own client, the app, the emulator, the bare server and the
// app's Redis server.
type CPU struct {
	Client   float64 `json:"client"`
	App      float64 `json:"app"`
	Emulator float64 `json:"emulator"`
	Bare     float64 `json:"bare"`
	Redis    float64 `json:"redis"`
}

// Total is the CPU time of one operation over every process.
func (c CPU) Total() float64 { return c.Client + c.App + c.Emulator + c.Bare + c.Redis }

// cpuTimes are the CPU times of the processes, in CPU's order.
type cpuTimes [5]time.Duration

// op performs one operation for worker w (0 <= w < users).
type op func(ctx context.Context, w int) error

// sample is the raw result of one or more measurements of the same thing.
type sample struct {
	users     int
	elapsed   time.Duration
	latencies []time.Duration
	cpu       cpuTimes
}

func (s *sample) add(o sample) {
	s.users = o.users
	s.elapsed += o.elapsed
	s.latencies = append(s.latencies, o.latencies...)
	for i := range s.cpu {
		s.cpu[i] += o.cpu[i]
	}
}

func (s sample) rate() Rate {
	n := len(s.latencies)
	if n == 0 {
		return Rate{Users: s.users}
	}
	lat := slices.Clone(s.latencies)
	slices.Sort(lat)
	ms := func(q float64) float64 {
		return float64(lat[min(n-1, int(q*float64(n)))]) / float64(time.Millisecond)
	}
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) / float64(n) }
	return Rate{
		Users:     s.users,
		Count:     n,
		Seconds:   s.elapsed.Seconds(),
		PerSecond: float64(n) / s.elapsed.Seconds(),
		P50ms:     ms(0.50),
		P99ms:     ms(0.99),
		CPU:       CPU{Client: us(s.cpu[0]), App: us(s.cpu[1]), Emulator: us(s.cpu[2]), Bare: us(s.cpu[3]), Redis: us(s.cpu[4])},
	}
}

// cpuMeter reads the CPU time of the benchmark and its servers.
type cpuMeter func() cpuTimes

// measure runs op from users workers until d has passed or maxOps
// operations have started, whichever comes first. The first error stops
// every worker and is returned.
func measure(ctx context.Context, users int, d time.Duration, maxOps int, meter cpuMeter, fn op) (sample, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		started   atomic.Int64
		wg        sync.WaitGroup
		latencies = make([][]time.Duration, users)
	)
	cpuBefore := meter()
	begin := time.Now()
	deadline := begin.Add(d)
	for w := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && time.Now().Before(deadline) && started.Add(1) <= int64(maxOps) {
				t := time.Now()
				if err := fn(ctx, w); err != nil {
					cancel(err)
					return
				}
				latencies[w] = append(latencies[w], time.Since(t))
			}
		}()
	}
	wg.Wait()
	s := sample{users: users, elapsed: time.Since(begin), latencies: slices.Concat(latencies...)}
	cpuAfter := meter()
	for i := range s.cpu {
		s.cpu[i] = cpuAfter[i] - cpuBefore[i]
	}
	if err := context.Cause(ctx); err != nil {
		return sample{}, err
	}
	if len(s.latencies) == 0 {
		return sample{}, fmt.Errorf("no operation completed in %v", d)
	}
	return s, nil
}
