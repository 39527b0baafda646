// Command gridkv-bench is a load generator for GridKV: against an embedded
// in-process cluster (nodes on loopback TCP) or against running servers over
// the Redis protocol. It shows a live progress bar and ends with a table of
// throughput and latency percentiles (HDR histograms).
//
//	gridkv-bench --nodes 3 --duration 10s --mix set=20,get=80
//	gridkv-bench --servers 127.0.0.1:6380 --pipeline 16 --concurrency 50
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/gridkv/gridkv/gridkv"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type benchFlags struct {
	servers, password, mixS, consistency string
	nodes, n, keys, valueSize            int
	concurrency, pipeline                int
	duration                             time.Duration
	requests                             int64
	seed                                 uint64
	preload, progress                    bool
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f benchFlags
	fs := flag.NewFlagSet("gridkv-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.servers, "servers", "", "comma-separated Redis-protocol addresses (gridkv-server or redis-server); empty runs an embedded cluster")
	fs.StringVar(&f.password, "password", "", "AUTH password for --servers")
	fs.IntVar(&f.nodes, "nodes", 3, "embedded cluster size")
	fs.IntVar(&f.n, "replication-factor", 0, "embedded cluster N (0: min(3, nodes))")
	fs.StringVar(&f.consistency, "consistency", "quorum", "embedded: consistency level of every call (one, quorum, all, linearizable)")
	fs.StringVar(&f.mixS, "mix", "set=20,get=80", "operation mix in percent: set=S,get=G[,del=D]")
	fs.IntVar(&f.keys, "keys", 100000, "key space: keys are key:0 .. key:<keys-1>, chosen uniformly")
	fs.IntVar(&f.valueSize, "value-size", 64, "value size in bytes")
	fs.IntVar(&f.concurrency, "concurrency", 50, "concurrent workers (one connection each for --servers)")
	fs.IntVar(&f.pipeline, "pipeline", 1, "requests per round trip (--servers only)")
	fs.DurationVar(&f.duration, "duration", 10*time.Second, "how long to run")
	fs.Int64Var(&f.requests, "requests", 0, "stop after this many requests instead of --duration")
	fs.Uint64Var(&f.seed, "seed", 1, "random seed for key and op choice")
	fs.BoolVar(&f.preload, "preload", true, "write every key once before measuring, so reads hit")
	fs.BoolVar(&f.progress, "progress", true, "show a live progress bar on stderr")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	m, err := parseMix(f.mixS)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if f.keys < 1 || f.valueSize < 0 || f.concurrency < 1 || f.pipeline < 1 || f.nodes < 1 || (f.requests <= 0 && f.duration <= 0) {
		fmt.Fprintln(stderr, "gridkv-bench: keys, concurrency, pipeline and nodes must be positive; value-size >= 0; duration or requests > 0")
		return 2
	}
	cfg := loadConfig{mix: m, keys: f.keys, valueSize: f.valueSize, concurrency: f.concurrency,
		pipeline: f.pipeline, duration: f.duration, requests: f.requests, seed: f.seed}

	var t target
	desc := ""
	if f.servers != "" {
		addrs := strings.Split(f.servers, ",")
		t = newRedisTarget(addrs, f.password, f.concurrency)
		desc = fmt.Sprintf("Redis protocol to %s", f.servers)
	} else {
		if f.pipeline != 1 {
			fmt.Fprintln(stderr, "gridkv-bench: --pipeline needs --servers (embedded calls are not pipelined)")
			return 2
		}
		et, err := startEmbedded(ctx, f)
		if err != nil {
			fmt.Fprintln(stderr, "gridkv-bench:", err)
			return 1
		}
		t = et
		desc = fmt.Sprintf("embedded cluster: %d nodes on loopback TCP, N=%d, %s", f.nodes, et.n, strings.ToUpper(f.consistency))
	}
	defer func() { _ = t.close() }()

	fmt.Fprintf(stdout, "gridkv-bench: %s\nmix %s, %d keys, %dB values, %d workers, pipeline %d, GOMAXPROCS %d, %d CPUs\n",
		desc, f.mixS, f.keys, f.valueSize, f.concurrency, f.pipeline, runtime.GOMAXPROCS(0), runtime.NumCPU())
	if f.preload {
		start := time.Now()
		if err := preload(ctx, t, cfg); err != nil {
			fmt.Fprintln(stderr, "gridkv-bench: preload:", err)
			return 1
		}
		fmt.Fprintf(stdout, "preloaded %d keys in %v\n", f.keys, time.Since(start).Round(time.Millisecond))
	}

	var progress func(int64)
	if f.progress {
		var bar *progressbar.ProgressBar
		if f.requests > 0 {
			bar = progressbar.NewOptions64(f.requests, progressbar.OptionSetWriter(stderr),
				progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("req"),
				progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionSetDescription("requests"))
		} else {
			bar = progressbar.NewOptions64(int64(f.duration/time.Millisecond), progressbar.OptionSetWriter(stderr),
				progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionSetPredictTime(false))
		}
		start := time.Now()
		progress = func(done int64) {
			if f.requests > 0 {
				_ = bar.Set64(done)
				return
			}
			el := time.Since(start)
			bar.Describe(fmt.Sprintf("%d requests, %.0f/s", done, float64(done)/max(el.Seconds(), 1e-9)))
			_ = bar.Set64(min(int64(el/time.Millisecond), int64(f.duration/time.Millisecond)))
		}
		defer func() { _ = bar.Finish(); fmt.Fprintln(stderr) }()
	}
	res := runLoad(ctx, t, cfg, progress)
	if progress != nil {
		fmt.Fprintln(stderr)
	}
	fmt.Fprintf(stdout, "\n%v elapsed\n", res.elapsed.Round(time.Millisecond))
	writeTable(stdout, res)
	for _, s := range res.ops {
		if s.errors > 0 {
			return 1
		}
	}
	return 0
}

type embedded struct {
	embeddedTarget
	n int
}

// startEmbedded starts f.nodes gridkv nodes on loopback and waits until
// each sees all of them.
func startEmbedded(ctx context.Context, f benchFlags) (*embedded, error) {
	lvl, err := gridkv.ParseConsistency(strings.ToUpper(f.consistency))
	if err != nil {
		return nil, err
	}
	n := f.n
	if n == 0 {
		n = min(3, f.nodes)
	}
	e := &embedded{n: n}
	e.opts = []gridkv.CallOption{gridkv.WithConsistency(lvl)}
	for i := range f.nodes {
		o := gridkv.DefaultOptions()
		o.BindAddr = "127.0.0.1:0"
		o.ReplicationFactor = n
		o.Gossip = gridkv.GossipLocal
		if i > 0 {
			o.Seeds = []string{e.nodes[0].Addr()}
		}
		node, err := gridkv.New(o)
		if err != nil {
			_ = e.close()
			return nil, err
		}
		e.nodes = append(e.nodes, node)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, node := range e.nodes {
		if err := node.WaitReady(wctx); err != nil {
			_ = e.close()
			return nil, err
		}
		for node.Ring().Len() < f.nodes {
			select {
			case <-wctx.Done():
				_ = e.close()
				return nil, fmt.Errorf("cluster did not converge: %w", wctx.Err())
			case <-time.After(20 * time.Millisecond): // gossip converges in rounds
			}
		}
	}
	return e, nil
}
