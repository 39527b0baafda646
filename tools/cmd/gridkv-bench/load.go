package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/redis/go-redis/v9"

	"github.com/gridkv/gridkv/gridkv"
)

// ErrBadMix is returned for a --mix that does not parse.
var ErrBadMix = errors.New("gridkv-bench: bad --mix")

// op is one kind of request.
type op uint8

const (
	opSet op = iota
	opGet
	opDel
	numOps
)

var opNames = [numOps]string{"SET", "GET", "DEL"}

// mix is the share of each op, in percent, summing to 100.
type mix [numOps]int

// parseMix parses "set=20,get=80[,del=N]".
func parseMix(s string) (mix, error) {
	var m mix
	total := 0
	for part := range strings.SplitSeq(s, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return m, fmt.Errorf("%w: %q (want set=20,get=80)", ErrBadMix, part)
		}
		n, err := strconv.Atoi(val)
		if err != nil || n < 0 || n > 100 {
			return m, fmt.Errorf("%w: %q: share must be 0..100", ErrBadMix, part)
		}
		i := -1
		for j, on := range opNames {
			if strings.EqualFold(on, name) {
				i = j
			}
		}
		if i < 0 {
			return m, fmt.Errorf("%w: unknown operation %q (set, get, del)", ErrBadMix, name)
		}
		m[i] = n
		total += n
	}
	if total != 100 {
		return m, fmt.Errorf("%w: shares sum to %d, want 100", ErrBadMix, total)
	}
	return m, nil
}

// pick chooses an op for a uniform draw r in [0,100).
func (m mix) pick(r int) op {
	for i, share := range m {
		if r < share {
			return op(i)
		}
		r -= share
	}
	return opGet
}

// target executes requests. Implementations are safe for concurrent use by
// distinct workers (worker w only uses its own connection or node).
type target interface {
	// do runs a batch of ops (len(batch) > 1 only for pipelined Redis).
	do(ctx context.Context, worker int, batch []request) error
	close() error
}

type request struct {
	op    op
	key   string
	value []byte
	err   error
}

// embeddedTarget calls gridkv nodes in this process.
type embeddedTarget struct {
	nodes []*gridkv.Node
	opts  []gridkv.CallOption
}

func (e *embeddedTarget) do(ctx context.Context, worker int, batch []request) error {
	n := e.nodes[worker%len(e.nodes)]
	for i := range batch {
		r := &batch[i]
		switch r.op {
		case opSet:
			r.err = n.Set(ctx, r.key, r.value, e.opts...)
		case opGet:
			_, r.err = n.Get(ctx, r.key, e.opts...)
			if errors.Is(r.err, gridkv.ErrNotFound) {
				r.err = nil
			}
		case opDel:
			r.err = n.Delete(ctx, r.key, e.opts...)
		}
	}
	return nil
}

func (e *embeddedTarget) close() error {
	var err error
	for _, n := range e.nodes {
		err = errors.Join(err, n.Close())
	}
	return err
}

// redisTarget speaks the Redis protocol (go-redis) to one or more servers;
// worker w uses server w mod len(servers).
type redisTarget struct {
	clients []*redis.Client
}

func newRedisTarget(addrs []string, password string, conns int) *redisTarget {
	t := &redisTarget{}
	for _, a := range addrs {
		t.clients = append(t.clients, redis.NewClient(&redis.Options{
			Addr: a, Password: password, PoolSize: conns, MinIdleConns: 0,
			Protocol: 2, DisableIdentity: true, MaxRetries: -1,
		}))
	}
	return t
}

func (t *redisTarget) do(ctx context.Context, worker int, batch []request) error {
	c := t.clients[worker%len(t.clients)]
	if len(batch) == 1 {
		r := &batch[0]
		r.err = redisOp(ctx, c, r).Err()
		if errors.Is(r.err, redis.Nil) {
			r.err = nil
		}
		return nil
	}
	pipe := c.Pipeline()
	cmds := make([]redis.Cmder, len(batch))
	for i := range batch {
		cmds[i] = redisOp(ctx, pipe, &batch[i])
	}
	_, _ = pipe.Exec(ctx)
	for i, cmd := range cmds {
		if err := cmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
			batch[i].err = err
		}
	}
	return nil
}

func redisOp(ctx context.Context, c redis.Cmdable, r *request) redis.Cmder {
	switch r.op {
	case opSet:
		return c.Set(ctx, r.key, r.value, 0)
	case opDel:
		return c.Del(ctx, r.key)
	}
	return c.Get(ctx, r.key)
}

func (t *redisTarget) close() error {
	var err error
	for _, c := range t.clients {
		err = errors.Join(err, c.Close())
	}
	return err
}

// loadConfig describes one run.
type loadConfig struct {
	mix         mix
	keys        int
	valueSize   int
	concurrency int
	pipeline    int
	duration    time.Duration
	requests    int64 // if > 0, stop after this many instead of duration
	seed        uint64
}

// opStats accumulates one op's results; each worker has its own.
type opStats struct {
	hist   *hdrhistogram.Histogram // microseconds
	errors int64
	first  error
}

func newOpStats() *opStats {
	return &opStats{hist: hdrhistogram.New(1, 60_000_000, 3)}
}

// result is a finished run.
type result struct {
	elapsed time.Duration
	ops     [numOps]*opStats
}

func keyName(i int) string { return "key:" + strconv.Itoa(i) }

// runLoad drives t with cfg's workload until the duration passes or the
// request budget is spent. progress, if set, is called with the running
// total from one goroutine every 100ms.
func runLoad(ctx context.Context, t target, cfg loadConfig, progress func(done int64)) result {
	var done atomic.Int64
	var budget atomic.Int64
	budget.Store(cfg.requests)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if cfg.requests <= 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeout(ctx, cfg.duration)
		defer stop()
	}
	value := make([]byte, cfg.valueSize)
	for i := range value {
		value[i] = 'a' + byte(i%26)
	}
	per := make([][numOps]*opStats, cfg.concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range cfg.concurrency {
		for o := range numOps {
			per[w][o] = newOpStats()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(cfg.seed, uint64(w)))
			batch := make([]request, cfg.pipeline)
			for ctx.Err() == nil {
				n := cfg.pipeline
				if cfg.requests > 0 {
					left := budget.Add(-int64(n))
					if left < 0 {
						n += int(left)
						if n <= 0 {
							return
						}
					}
				}
				b := batch[:n]
				for i := range b {
					b[i] = request{op: cfg.mix.pick(rng.IntN(100)), key: keyName(rng.IntN(cfg.keys)), value: value}
				}
				t0 := time.Now()
				_ = t.do(ctx, w, b)
				lat := time.Since(t0).Microseconds()
				for i := range b {
					st := per[w][b[i].op]
					if b[i].err != nil {
						if ctx.Err() != nil {
							continue // cut off by the end of the run
						}
						st.errors++
						if st.first == nil {
							st.first = b[i].err
						}
						continue
					}
					// A pipelined request's latency is its batch's round trip.
					_ = st.hist.RecordValue(max(lat, 1))
				}
				done.Add(int64(n))
			}
		}()
	}
	if progress != nil {
		tick := time.NewTicker(100 * time.Millisecond)
		finished := make(chan struct{})
		go func() {
			wg.Wait()
			close(finished)
		}()
	loop:
		for {
			select {
			case <-tick.C:
				progress(done.Load())
			case <-finished:
				break loop
			}
		}
		tick.Stop()
		progress(done.Load())
	}
	wg.Wait()
	res := result{elapsed: time.Since(start)}
	for o := range numOps {
		res.ops[o] = newOpStats()
		for w := range per {
			s := per[w][o]
			res.ops[o].hist.Merge(s.hist)
			res.ops[o].errors += s.errors
			if res.ops[o].first == nil {
				res.ops[o].first = s.first
			}
		}
	}
	return res
}

// preload writes every key once (untimed) so that reads hit.
func preload(ctx context.Context, t target, cfg loadConfig) error {
	value := make([]byte, cfg.valueSize)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, cfg.concurrency)
	for w := range cfg.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			batch := make([]request, 0, cfg.pipeline)
			for {
				batch = batch[:0]
				for len(batch) < cfg.pipeline {
					i := next.Add(1) - 1
					if i >= int64(cfg.keys) {
						break
					}
					batch = append(batch, request{op: opSet, key: keyName(int(i)), value: value})
				}
				if len(batch) == 0 {
					return
				}
				_ = t.do(ctx, w, batch)
				for _, r := range batch {
					if r.err != nil && errs[w] == nil {
						errs[w] = r.err
					}
				}
				if ctx.Err() != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// writeTable prints throughput and latency percentiles per op.
func writeTable(out io.Writer, res result) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\trequests\terrors\tops/s\tp50\tp90\tp99\tp99.9\tmax\t")
	var total int64
	order := []op{opSet, opGet, opDel}
	sort.SliceStable(order, func(i, j int) bool { return order[i] < order[j] })
	for _, o := range order {
		s := res.ops[o]
		n := s.hist.TotalCount()
		total += n
		if n == 0 && s.errors == 0 {
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%s\t%s\t%s\t%s\t%s\t\n", opNames[o], n, s.errors,
			float64(n)/res.elapsed.Seconds(), us(s.hist.ValueAtQuantile(50)), us(s.hist.ValueAtQuantile(90)),
			us(s.hist.ValueAtQuantile(99)), us(s.hist.ValueAtQuantile(99.9)), us(s.hist.Max()))
	}
	fmt.Fprintf(tw, "all\t%d\t\t%.0f\t\t\t\t\t\t\n", total, float64(total)/res.elapsed.Seconds())
	_ = tw.Flush()
	for _, o := range order {
		if s := res.ops[o]; s.first != nil {
			fmt.Fprintf(out, "first %s error: %v\n", opNames[o], s.first)
		}
	}
}

func us(v int64) string {
	d := time.Duration(v) * time.Microsecond
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", v)
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(v)/1000)
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}
