package gridkv

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gridkv/gridkv/transport"
)

// BenchmarkLocalGet reads keys this node replicates with R=1: no network.
func BenchmarkLocalGet(b *testing.B) {
	o := DefaultOptions()
	o.BindAddr = "127.0.0.1:0"
	o.ReplicationFactor = 1
	n, err := New(o)
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	ctx := context.Background()
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%04d", i)
		if err := n.Set(ctx, keys[i], make([]byte, 64)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := n.Get(ctx, keys[i&1023], WithConsistency(One)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkQuorum runs Set and Get with N=3, W=2, R=2 on a 3-node cluster
// over loopback TCP, 50 concurrent callers, and reports p50/p99 latency.
func BenchmarkQuorum(b *testing.B) {
	for _, engine := range []transport.Engine{transport.EngineNet, transport.EngineGnet} {
		for _, op := range []string{"set", "get"} {
			b.Run(fmt.Sprintf("%s/%s", engine, op), func(b *testing.B) {
				benchQuorum(b, engine, op)
			})
		}
	}
}

func benchQuorum(b *testing.B, engine transport.Engine, op string) {
	var nodes []*Node
	defer func() {
		for _, n := range nodes {
			n.Close()
		}
	}()
	for i := range 3 {
		o := DefaultOptions()
		o.BindAddr = "127.0.0.1:0"
		o.Engine = engine
		o.Gossip = GossipLocal
		o.NodeID = fmt.Sprintf("n%d", i)
		if i > 0 {
			o.Seeds = []string{nodes[0].Addr()}
		}
		n, err := New(o)
		if err != nil {
			b.Fatal(err)
		}
		nodes = append(nodes, n)
		if err := n.WaitReady(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, n := range nodes {
		for n.Ring().Len() < 3 {
			if time.Now().After(deadline) {
				b.Fatal("cluster did not converge")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	ctx := context.Background()
	const keys = 10000
	value := make([]byte, 64)
	if op == "get" {
		for i := range keys {
			if err := nodes[i%3].Set(ctx, fmt.Sprintf("key-%d", i), value); err != nil {
				b.Fatal(err)
			}
		}
	}
	const callers = 50
	lat := make([][]time.Duration, callers)
	var next atomic.Int64
	var failed atomic.Int64
	var writes0 uint64
	for _, n := range nodes {
		for _, p := range n.tr.Stats().Peers {
			writes0 += p.Writes
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for c := range callers {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(c), 1))
			n := nodes[c%3]
			for next.Add(1) <= int64(b.N) {
				key := fmt.Sprintf("key-%d", r.IntN(keys))
				start := time.Now()
				var err error
				if op == "set" {
					err = n.Set(ctx, key, value)
				} else {
					_, err = n.Get(ctx, key)
				}
				lat[c] = append(lat[c], time.Since(start))
				if err != nil {
					failed.Add(1)
				}
			}
		}(c)
	}
	wg.Wait()
	b.StopTimer()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d operations failed", f)
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	// Socket writes per operation, all nodes together: what coalescing
	// saves.
	var writes uint64
	for _, n := range nodes {
		for _, p := range n.tr.Stats().Peers {
			writes += p.Writes
		}
	}
	b.ReportMetric(float64(writes-writes0)/float64(b.N), "writes/op")
	if op == "get" {
		var hedges uint64
		for _, n := range nodes {
			hedges += n.Metrics().ReadHedges
		}
		b.ReportMetric(float64(hedges)/float64(b.N), "hedges/op")
	}
	if len(all) > 0 {
		b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
	}
}
