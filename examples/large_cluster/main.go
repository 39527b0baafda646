// Command large_cluster runs 50 nodes in one process on the in-memory
// network and measures how long they take to find each other, how long a
// crash takes to be noticed by every survivor, and how evenly keys spread
// over the nodes, both as ring placement and as entries actually stored.
// It exits non-zero if the cluster does not converge or detect the failure
// in time, or if the spread is far from even.
package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/gridkv/gridkv/examples/internal/excluster"
	"github.com/gridkv/gridkv/gridkv"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
}

const (
	size      = 50
	keysSet   = 2000   // written through the cluster (N=3: 6000 copies)
	keysPlace = 100000 // placed on the ring only
)

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	t0 := time.Now()
	cpu0 := cpuTime()
	c := excluster.New(func(i int, o *gridkv.Options) {
		// Gentler than FastMembership: 50 nodes probing every 150ms with a
		// 75ms timeout produce false suspicions on a busy 2-core machine.
		m := o.Membership
		m.ProbeInterval, m.ProbeTimeout = 500*time.Millisecond, 250*time.Millisecond
		m.GossipInterval = 100 * time.Millisecond
		m.UnreachableSuspicionTimeout = 500 * time.Millisecond
		m.PushPullInterval = 5 * time.Second
		if i > 2 { // three seeds share the joins
			o.Seeds = []string{excluster.Addr(0), excluster.Addr(1), excluster.Addr(2)}
		}
	})
	// All 50 start at once.
	for i := range size {
		if _, err := c.Launch(i); err != nil {
			c.Close()
			return err
		}
	}
	for i, n := range c.Nodes {
		if err := n.WaitReady(ctx); err != nil {
			c.Close()
			return fmt.Errorf("%s did not join: %w", excluster.ID(i), err)
		}
	}
	joined := time.Since(t0)
	err := excluster.Poll(ctx, "every ring to hold all nodes", func() bool {
		for _, n := range c.Nodes {
			if n.Ring().Len() != size {
				return false
			}
		}
		return true
	})
	if err != nil {
		c.Close()
		return err
	}
	defer c.Close()
	fmt.Printf("%d nodes started at once: all joined (WaitReady) after %v; every node's ring holds all %d after %v (%v of CPU)\n",
		size, joined.Round(time.Millisecond), size, time.Since(t0).Round(time.Millisecond), (cpuTime() - cpu0).Round(time.Millisecond))
	suspected := 0
	for _, n := range c.Nodes {
		for _, m := range n.Members() {
			if m.State != "alive" {
				suspected++
			}
		}
	}
	fmt.Printf("  at that moment %d of %d (observer, member) views were not \"alive\" (suspicions from a busy CPU; they clear by refutation)\n", suspected, size*size)

	// Key distribution, as placed by the ring: primary owner and all three
	// replicas of many keys.
	r := c.Nodes[0].Ring()
	primaries, copies := map[string]int{}, map[string]int{}
	var buf []string
	for i := range keysPlace {
		k := fmt.Sprintf("key-%d", i)
		primaries[r.Locate(k)]++
		buf, err = r.Replicas(k, 3, buf[:0])
		if err != nil {
			return err
		}
		for _, id := range buf {
			copies[id]++
		}
	}
	report := func(what string, counts map[string]int, total int) float64 {
		vals := make([]int, 0, size)
		for _, v := range counts {
			vals = append(vals, v)
		}
		for len(vals) < size {
			vals = append(vals, 0) // a node that got nothing
		}
		slices.Sort(vals)
		mean := float64(total) / size
		fmt.Printf("  %-34s min %6d  mean %8.0f  max %6d  (max/mean %.2f)\n", what, vals[0], mean, vals[len(vals)-1], float64(vals[len(vals)-1])/mean)
		return float64(vals[len(vals)-1]) / mean
	}
	fmt.Printf("distribution over %d nodes (%d virtual nodes each):\n", size, r.VNodes()/size)
	imb1 := report(fmt.Sprintf("primary of %d keys", keysPlace), primaries, keysPlace)
	imb2 := report(fmt.Sprintf("replicas (N=3) of %d keys", keysPlace), copies, 3*keysPlace)

	// Real data: write keys through random coordinators, count entries in
	// every node's local store.
	for i := range keysSet {
		k := fmt.Sprintf("user:%d", i)
		if err := c.Nodes[i%size].Set(ctx, k, []byte("v")); err != nil {
			return fmt.Errorf("Set %s: %w", k, err)
		}
	}
	// W=2: the third copy of each key may still be in flight; wait for it.
	total := func() int {
		t := 0
		for _, n := range c.Nodes {
			t += n.Metrics().StorageEntries
		}
		return t
	}
	if err := excluster.Poll(ctx, "every key's third copy", func() bool { return total() == 3*keysSet }); err != nil {
		return fmt.Errorf("%w (%d entries stored, want %d)", err, total(), 3*keysSet)
	}
	stored := map[string]int{}
	for _, n := range c.Nodes {
		stored[n.ID()] = n.Metrics().StorageEntries
	}
	imb3 := report(fmt.Sprintf("stored copies of %d written keys", keysSet), stored, 3*keysSet)

	// Failure detection: crash one node; time until all 49 others agree it
	// is dead.
	victim := size / 2
	t1 := time.Now()
	c.Kill(victim)
	if err := excluster.WaitDead(ctx, c.Live(), excluster.ID(victim)); err != nil {
		return err
	}
	fmt.Printf("n%d crashed; all %d survivors declared it dead after %v (probe every 500ms, 250ms timeout)\n",
		victim, size-1, time.Since(t1).Round(time.Millisecond))

	// The cluster keeps serving; the dead node keeps its ranges for the
	// hint window, so writes for it become hints.
	live := c.Live()
	var hints uint64
	for i := range 200 {
		if err := live[i%len(live)].Set(ctx, fmt.Sprintf("after-%d", i), []byte("v")); err != nil {
			return fmt.Errorf("write after the crash: %w", err)
		}
	}
	for _, n := range live {
		hints += n.Metrics().HintsStored
	}
	fmt.Printf("200 more writes through the 49 survivors after the crash: all succeeded (%d kept as hints for n%d)\n", hints, victim)

	// Loose bounds: with 256 virtual nodes per member the ring keeps the
	// busiest node within ~1.2x of the mean; 5000 real keys add sampling
	// noise.
	if err := excluster.Checkf(imb1 < 1.35 && imb2 < 1.35, "ring placement too uneven (%.2f, %.2f)", imb1, imb2); err != nil {
		return err
	}
	if err := excluster.Checkf(imb3 < 1.6, "stored copies too uneven (%.2f)", imb3); err != nil {
		return err
	}
	fmt.Println("OK: large_cluster")
	return nil
}

// cpuTime returns the CPU time (user + system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
