// Command bench-storage measures the memory cost and garbage-collection cost
// of in-memory stores holding many entries: for each implementation and
// entry count it starts a fresh process of itself, fills the store with keys
// of 16 to 24 bytes and 64-byte values, and prints the heap bytes per entry,
// the overhead per entry beyond key and value, and the duration of a forced
// runtime.GC().
//
//	go run ./cmd/bench-storage                      # 1M and 10M entries, all implementations
//	go run ./cmd/bench-storage -n 1000000 -impl gridkv,otter
//
// gridkv is the sharded storage backend with TTL (one hour on every entry), a
// memory limit (never reached) and its sweeper enabled; otter and ristretto
// hold one-hour TTLs too; xsync and sync.Map have no TTL. Every value is its
// own 64-byte allocation for the stores that keep slices (as a server would
// hand them over), and is copied into the arena by gridkv.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/dgraph-io/ristretto/v2"
	"github.com/gridkv/gridkv/storage"
	"github.com/maypok86/otter/v2"
	"github.com/puzpuzpuz/xsync/v4"
)

const (
	valueSize = 64
	ttl       = time.Hour
	gcRuns    = 5
)

var allImpls = []string{"gridkv", "otter", "ristretto", "xsync", "syncmap"}

// result is what a child process reports.
type result struct {
	Impl          string  `json:"impl"`
	Entries       int     `json:"entries"`
	Held          int     `json:"held"` // entries the store reports holding
	HeapBytes     uint64  `json:"heap_bytes"`
	BytesPerEntry float64 `json:"bytes_per_entry"`
	Overhead      float64 `json:"overhead_per_entry"` // beyond key + value
	GCMedian      float64 `json:"gc_median_ms"`
	GCMin         float64 `json:"gc_min_ms"`
	GCMax         float64 `json:"gc_max_ms"`
	GCCPU         float64 `json:"gc_cpu_ms"` // median GC CPU time of one forced GC (runtime/metrics)
	HeapObjects   uint64  `json:"heap_objects"`
	FillSeconds   float64 `json:"fill_seconds"`
}

func main() {
	child := flag.String("child", "", "internal: measure one implementation in this process")
	ns := flag.String("n", "1000000,10000000", "comma-separated entry counts")
	impls := flag.String("impl", strings.Join(allImpls, ","), "comma-separated implementations: "+strings.Join(allImpls, ","))
	jsonOut := flag.Bool("json", false, "print one JSON object per measurement instead of a table")
	flag.Parse()

	if *child != "" {
		n, err := strconv.Atoi(*ns)
		if err != nil {
			fail(err)
		}
		r, err := measure(*child, n)
		if err != nil {
			fail(err)
		}
		if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
			fail(err)
		}
		return
	}

	exe, err := os.Executable()
	if err != nil {
		fail(err)
	}
	var results []result
	for _, nStr := range strings.Split(*ns, ",") {
		for _, impl := range strings.Split(*impls, ",") {
			if !slices.Contains(allImpls, impl) {
				fail(fmt.Errorf("unknown implementation %q", impl))
			}
			var out bytes.Buffer
			cmd := exec.Command(exe, "-child", impl, "-n", strings.TrimSpace(nStr))
			cmd.Stdout, cmd.Stderr = &out, os.Stderr
			if err := cmd.Run(); err != nil {
				fail(fmt.Errorf("%s n=%s: %w", impl, nStr, err))
			}
			var r result
			if err := json.Unmarshal(out.Bytes(), &r); err != nil {
				fail(fmt.Errorf("%s n=%s: bad child output %q: %w", impl, nStr, out.String(), err))
			}
			if *jsonOut {
				json.NewEncoder(os.Stdout).Encode(r)
			}
			results = append(results, r)
		}
	}
	if *jsonOut {
		return
	}
	fmt.Printf("GOMAXPROCS=%d GOGC=%s %s\n", runtime.GOMAXPROCS(0), os.Getenv("GOGC"), runtime.Version())
	tw := tabwriter.NewWriter(os.Stdout, 2, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "impl\tentries\theld\theap MiB\tB/entry\toverhead B/entry\tGC median ms\tGC min ms\tGC max ms\tGC cpu ms\theap objects\tfill s\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t%.1f\t\n", r.Impl, r.Entries, r.Held,
			float64(r.HeapBytes)/(1<<20), r.BytesPerEntry, r.Overhead, r.GCMedian, r.GCMin, r.GCMax, r.GCCPU, r.HeapObjects, r.FillSeconds)
	}
	tw.Flush()
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench-storage:", err)
	os.Exit(1)
}

// appendKey appends key i (16 to 24 bytes) to dst.
func appendKey(dst []byte, i int) []byte {
	return fmt.Appendf(dst, "key:%0*d", 12+i%9, i)
}

// gcCPU returns the CPU seconds the garbage collector has used so far: a
// figure less sensitive than wall time to other processes competing for the
// cores.
func gcCPU() float64 {
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(s)
	return s[0].Value.Float64()
}

func heap() (uint64, uint64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc, m.HeapObjects
}

// measure fills one store with n entries and measures it.
func measure(impl string, n int) (result, error) {
	debug.FreeOSMemory()
	base, baseObjs := heap()
	start := time.Now()
	var (
		keep    any
		held    func() int
		keyByte int
		key     = make([]byte, 0, 32)
	)
	val := make([]byte, valueSize)
	for i := range val {
		val[i] = byte(i * 7)
	}
	fresh := func() []byte { return bytes.Clone(val) }
	switch impl {
	case "gridkv":
		cfg := storage.DefaultConfig()
		cfg.MemoryLimit = int64(n) * 512 // ~3x the need: enabled, never reached
		s, err := storage.NewSharded(cfg)
		if err != nil {
			return result{}, err
		}
		now := time.Now().UnixNano()
		e := storage.Entry{Value: val, Expiry: now + int64(ttl)}
		e.Version[0] = 1
		for i := 0; i < n; i++ {
			key = appendKey(key[:0], i)
			keyByte += len(key)
			if _, err := s.Put(key, e); err != nil {
				return result{}, err
			}
		}
		keep, held = s, s.Len
		defer s.Close()
	case "otter":
		c, err := otter.New(&otter.Options[string, []byte]{
			MaximumSize:      2 * n,
			ExpiryCalculator: otter.ExpiryWriting[string, []byte](ttl),
		})
		if err != nil {
			return result{}, err
		}
		for i := 0; i < n; i++ {
			key = appendKey(key[:0], i)
			keyByte += len(key)
			c.Set(string(key), fresh())
		}
		keep, held = c, func() int { return c.EstimatedSize() }
	case "ristretto":
		c, err := ristretto.NewCache(&ristretto.Config[string, []byte]{
			NumCounters:        int64(10 * n),
			MaxCost:            int64(2 * n),
			BufferItems:        64,
			IgnoreInternalCost: true,
		})
		if err != nil {
			return result{}, err
		}
		for i := 0; i < n; i++ {
			key = appendKey(key[:0], i)
			keyByte += len(key)
			k, v := string(key), fresh()
			for !c.SetWithTTL(k, v, 1, ttl) {
				c.Wait()
			}
		}
		c.Wait()
		keep, held = c, func() int { // ristretto keeps no count unless Metrics is on
			k, found := make([]byte, 0, 32), 0
			for i := 0; i < n; i++ {
				k = appendKey(k[:0], i)
				if _, ok := c.Get(string(k)); ok {
					found++
				}
			}
			return found
		}
		defer c.Close()
	case "xsync":
		m := xsync.NewMapOf[string, []byte]()
		for i := 0; i < n; i++ {
			key = appendKey(key[:0], i)
			keyByte += len(key)
			m.Store(string(key), fresh())
		}
		keep, held = m, m.Size
	case "syncmap":
		m := &sync.Map{}
		for i := 0; i < n; i++ {
			key = appendKey(key[:0], i)
			keyByte += len(key)
			m.Store(string(key), fresh())
		}
		keep, held = m, func() int {
			c := 0
			m.Range(func(any, any) bool { c++; return true })
			return c
		}
	default:
		return result{}, fmt.Errorf("unknown implementation %q", impl)
	}
	fill := time.Since(start)
	after, objs := heap()
	var gcs, cpus []float64
	for i := 0; i < gcRuns; i++ {
		c0 := gcCPU()
		t := time.Now()
		runtime.GC()
		gcs = append(gcs, float64(time.Since(t).Microseconds())/1000)
		cpus = append(cpus, (gcCPU()-c0)*1000)
	}
	slices.Sort(gcs)
	slices.Sort(cpus)
	r := result{
		Impl:        impl,
		Entries:     n,
		Held:        held(),
		HeapBytes:   after - base,
		HeapObjects: objs - baseObjs,
		GCMedian:    gcs[len(gcs)/2],
		GCMin:       gcs[0],
		GCMax:       gcs[len(gcs)-1],
		GCCPU:       cpus[len(cpus)/2],
		FillSeconds: fill.Seconds(),
	}
	r.BytesPerEntry = float64(r.HeapBytes) / float64(n)
	r.Overhead = r.BytesPerEntry - float64(keyByte)/float64(n) - valueSize
	runtime.KeepAlive(keep)
	return r, nil
}
