// Command high_concurrency drives a three-node cluster on loopback TCP with
// many goroutines at once (90% QUORUM reads, 10% QUORUM writes) for each
// socket engine, and prints throughput and latency percentiles. A last run
// with a tiny MaxInFlight shows the node refusing work with ErrOverloaded
// instead of queueing without bound. It exits non-zero if any read returns
// a value that was never written for its key, if any call fails (other than
// the expected ErrOverloaded), or if the nodes' own counters disagree with
// the calls made.
package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gridkv/gridkv/examples/internal/excluster"
	"github.com/gridkv/gridkv/gridkv"
	"github.com/gridkv/gridkv/transport"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
}

const (
	callers  = 64
	keys     = 10000
	duration = 2 * time.Second
)

type config struct {
	name        string
	engine      transport.Engine
	maxInFlight int
}

func run() error {
	fmt.Printf("%d goroutines, %d keys, 90%% QUORUM Get / 10%% QUORUM Set, %v per run, N=3 W=R=2\n", callers, keys, duration)
	fmt.Printf("%-26s %10s %9s %9s %9s %9s\n", "configuration", "ops/s", "p50", "p99", "p99.9", "refused")
	for _, cfg := range []config{
		{"engine=net (stdlib)", transport.EngineNet, 16384},
		{"engine=gnet (event loop)", transport.EngineGnet, 16384},
		{"net, MaxInFlight=16", transport.EngineNet, 16},
	} {
		if err := runOne(cfg); err != nil {
			return fmt.Errorf("%s: %w", cfg.name, err)
		}
	}
	fmt.Println("OK: high_concurrency")
	return nil
}

type result struct {
	lat                 []time.Duration
	gets, sets, refused int
	err                 error
}

func runOne(cfg config) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var nodes []*gridkv.Node
	defer func() {
		for _, n := range nodes {
			n.Close()
		}
	}()
	for i := range 3 {
		o := gridkv.DefaultOptions()
		o.NodeID = excluster.ID(i)
		o.BindAddr = "127.0.0.1:0"
		o.Engine = cfg.engine           // socket engine
		o.MaxInFlight = cfg.maxInFlight // bound on outstanding replica requests
		tc := transport.DefaultConfig() // transport knobs:
		tc.ConnsPerPeer = 1             //   connections per peer calls are spread over
		tc.HandlerPoolSize = 1024       //   handlers running at once before ErrOverloaded
		o.TransportConfig = &tc
		o.Membership = excluster.FastMembership()
		if i > 0 {
			o.Seeds = []string{nodes[0].Addr()}
		}
		n, err := gridkv.New(o)
		if err != nil {
			return err
		}
		nodes = append(nodes, n)
		if err := n.WaitReady(ctx); err != nil {
			return err
		}
	}
	if err := excluster.WaitConverged(ctx, nodes); err != nil {
		return err
	}
	overloaded := cfg.maxInFlight < callers

	results := make([]result, callers)
	stop := time.Now().Add(duration)
	var wg sync.WaitGroup
	for g := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &results[g]
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			node := nodes[g%len(nodes)]
			r.lat = make([]time.Duration, 0, 4096)
			for seq := 0; time.Now().Before(stop); seq++ {
				k := fmt.Sprintf("key-%d", rng.IntN(keys))
				t := time.Now()
				var err error
				if rng.IntN(10) == 0 {
					err = node.Set(ctx, k, []byte(fmt.Sprintf("%s|%d|%d", k, g, seq)))
					r.sets++
				} else {
					var v []byte
					v, err = node.Get(ctx, k)
					r.gets++
					if err == nil && !strings.HasPrefix(string(v), k+"|") {
						r.err = fmt.Errorf("%w: Get(%s) returned %q, a value never written for it", excluster.ErrCheck, k, v)
						return
					}
				}
				switch {
				case err == nil, errors.Is(err, gridkv.ErrNotFound):
					r.lat = append(r.lat, time.Since(t))
				case overloaded && errors.Is(err, gridkv.ErrOverloaded):
					// Refused at once: back off briefly, as a client would.
					r.refused++
					time.Sleep(time.Millisecond)
				default:
					r.err = err
					return
				}
			}
		}()
	}
	wg.Wait()

	var all []time.Duration
	var gets, sets, refused int
	for _, r := range results {
		if r.err != nil {
			return r.err
		}
		all = append(all, r.lat...)
		gets, sets, refused = gets+r.gets, sets+r.sets, refused+r.refused
	}
	p := excluster.Percentiles(all, 50, 99, 99.9)
	fmt.Printf("%-26s %10.0f %9v %9v %9v %9d\n", cfg.name, float64(len(all))/duration.Seconds(),
		p[0].Round(time.Microsecond), p[1].Round(time.Microsecond), p[2].Round(time.Microsecond), refused)

	// The nodes count every call they coordinate: compare with ours.
	var mGets, mSets, mOverloads uint64
	for _, n := range nodes {
		m := n.Metrics()
		mGets += m.Ops[gridkv.OpGet].Count
		mSets += m.Ops[gridkv.OpSet].Count
		mOverloads += m.Overloads
	}
	if err := excluster.Checkf(int(mGets) == gets && int(mSets) == sets,
		"nodes counted %d gets and %d sets, callers made %d and %d", mGets, mSets, gets, sets); err != nil {
		return err
	}
	if err := excluster.Checkf(len(all) > 0, "no call succeeded"); err != nil {
		return err
	}
	if overloaded {
		return excluster.Checkf(refused > 0 && mOverloads >= uint64(refused),
			"MaxInFlight=%d with %d callers: %d calls refused, nodes counted %d overloads", cfg.maxInFlight, callers, refused, mOverloads)
	}
	return nil
}
