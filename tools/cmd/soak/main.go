// Command soak runs a mixed load against a 3-node GridKV cluster on loopback
// TCP for a while (10 minutes by default) and prints the process's resident
// memory and goroutine count over time. After a warm-up it checks that RSS
// stays within ±10% of its level just after the warm-up (the median of
// the first five samples), and
// exits non-zero if it does not (a leak), or if operations fail.
//
//	go run ./tools/cmd/soak -duration 10m
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gridkv/gridkv/gridkv"
)

func main() {
	duration := flag.Duration("duration", 10*time.Minute, "how long to run the load")
	warmup := flag.Duration("warmup", 0, "warm-up excluded from the RSS check (default: 3/10 of -duration, enough for TTLs and tombstone grace to reach steady state)")
	every := flag.Duration("every", 10*time.Second, "sampling interval")
	workers := flag.Int("workers", 16, "concurrent clients")
	keys := flag.Int("keys", 50000, "key space")
	valueSize := flag.Int("value", 256, "value size in bytes")
	tolerance := flag.Float64("tolerance", 0.10, "allowed RSS drift after warm-up, as a fraction")
	heapProfile := flag.String("heapprofile", "", "write a heap profile here at the end")
	rate := flag.Int("rate", 10000, "total operations per second (0: as fast as possible); a fixed rate keeps memory comparable over time on a shared machine, since TTL and tombstone queues grow with the write rate")
	flag.Parse()
	if *warmup == 0 {
		*warmup = *duration * 3 / 10
	}
	if err := run(*duration, *warmup, *every, *workers, *keys, *valueSize, *rate, *tolerance, *heapProfile); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func run(duration, warmup, every time.Duration, workers, keys, valueSize, rate int, tolerance float64, heapProfile string) error {
	var nodes []*gridkv.Node
	defer func() {
		for _, n := range nodes {
			n.Close()
		}
	}()
	for i := range 3 {
		o := gridkv.DefaultOptions()
		o.BindAddr = "127.0.0.1:0"
		o.NodeID = fmt.Sprintf("soak-%d", i)
		o.Gossip = gridkv.GossipLocal
		o.MemoryLimit = 256 << 20
		// Expired and deleted keys become tombstones kept for the grace
		// period; a short one lets the store reach steady state in minutes.
		o.HintWindow = 30 * time.Second
		o.AntiEntropyInterval = 10 * time.Second
		o.TombstoneGrace = time.Minute
		if i > 0 {
			o.Seeds = []string{nodes[0].Addr()}
		}
		n, err := gridkv.New(o)
		if err != nil {
			return err
		}
		nodes = append(nodes, n)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err = n.WaitReady(ctx)
		cancel()
		if err != nil {
			return err
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, n := range nodes {
		for n.Ring().Len() < 3 {
			if time.Now().After(deadline) {
				return fmt.Errorf("cluster did not converge")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	var ops, failures atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			value := make([]byte, valueSize)
			var pace <-chan time.Time
			if rate > 0 {
				t := time.NewTicker(time.Duration(workers) * time.Second / time.Duration(rate))
				defer t.Stop()
				pace = t.C
			}
			for {
				if pace != nil {
					select {
					case <-stop:
						return
					case <-pace:
					}
				}
				select {
				case <-stop:
					return
				default:
				}
				n := nodes[r.IntN(len(nodes))]
				key := "soak-" + strconv.Itoa(r.IntN(keys))
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				var err error
				switch p := r.IntN(100); {
				case p < 60:
					_, err = n.Get(ctx, key)
					if err == gridkv.ErrNotFound {
						err = nil
					}
				case p < 95:
					err = n.Set(ctx, key, value, gridkv.WithTTL(time.Duration(1+r.IntN(60))*time.Second))
				default:
					err = n.Delete(ctx, key)
				}
				cancel()
				ops.Add(1)
				if err != nil {
					failures.Add(1)
				}
			}
		}(w)
	}

	fmt.Printf("%8s %8s %8s %10s %10s %8s %9s %9s %7s %6s\n", "elapsed", "rss-MiB", "heap-MiB", "goroutines", "ops", "ops/s", "failures", "entries", "store-MiB", "hints")
	start := time.Now()
	// The baseline is the median of the first samples after warm-up: one
	// sample alone lands anywhere on the GC sawtooth.
	const baselineSamples = 5
	var after []float64
	var lastOps int64
	t := time.NewTicker(every)
	defer t.Stop()
	for range t.C {
		el := time.Since(start)
		rss := rssMiB()
		cur := ops.Load()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		var entries, hints int
		var storeBytes int64
		for _, n := range nodes {
			m := n.Metrics()
			entries += m.StorageEntries
			storeBytes += m.StorageBytes
			hints += m.HintsPending
		}
		fmt.Printf("%8s %8.1f %8.1f %10d %10d %8.0f %9d %9d %9.1f %6d\n", el.Round(time.Second), rss, float64(ms.HeapInuse)/(1<<20),
			runtime.NumGoroutine(), cur, float64(cur-lastOps)/every.Seconds(), failures.Load(), entries, float64(storeBytes)/(1<<20), hints)
		lastOps = cur
		if el >= warmup {
			after = append(after, rss)
		}
		if el >= duration {
			break
		}
	}
	close(stop)
	wg.Wait()
	if heapProfile != "" {
		if err := writeHeapProfile(heapProfile); err != nil {
			return err
		}
	}
	if len(after) < baselineSamples+1 {
		return fmt.Errorf("run too short: %d samples after warm-up, need %d", len(after), baselineSamples+1)
	}
	base := slices.Clone(after[:baselineSamples])
	slices.Sort(base)
	baseline := base[baselineSamples/2]
	lo, hi := slices.Min(after), slices.Max(after)
	fmt.Printf("RSS after warm-up: baseline %.1f MiB, min %.1f (%+.1f%%), max %.1f (%+.1f%%); %d ops, %d failed\n",
		baseline, lo, 100*(lo/baseline-1), hi, 100*(hi/baseline-1), ops.Load(), failures.Load())
	if lo < baseline*(1-tolerance) || hi > baseline*(1+tolerance) {
		return fmt.Errorf("RSS drifted beyond ±%.0f%%", 100*tolerance)
	}
	if f := failures.Load(); f > ops.Load()/1000 {
		return fmt.Errorf("%d of %d operations failed", f, ops.Load())
	}
	return nil
}

// rssMiB reads the resident set size from /proc/self/status.
func rssMiB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// writeHeapProfile writes a heap profile of the still-running cluster.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	runtime.GC()
	return pprof.WriteHeapProfile(f)
}
