// Command high_availability shows a five-node cluster (N=3) losing two
// nodes: writes keep succeeding (replicas that are down are replaced by
// stand-ins holding hints), every key stays readable, and when the two nodes
// come back empty, hinted handoff and anti-entropy refill them until every
// replica holds every key it should. It prints the counters and exits
// non-zero if any write or read fails or the replicas do not converge.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
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
	size    = 5
	keysPer = 300 // keys written before, during and after the outage
)

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	c, err := excluster.Start(ctx, size, func(_ int, o *gridkv.Options) {
		o.ReplicationFactor = 3 // W=R=2 by default
		// Compare ranges with one peer every 200ms (the default is 10s).
		o.AntiEntropyInterval = 200 * time.Millisecond
	})
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Printf("%d nodes, N=3, QUORUM (W=R=2)\n", size)

	want := map[string]string{} // what the cluster must hold at the end
	write := func(coord *gridkv.Node, prefix string) error {
		for i := range keysPer {
			k, v := fmt.Sprintf("%s-%d", prefix, i), fmt.Sprintf("%s/%d", prefix, i)
			if err := coord.Set(ctx, k, []byte(v)); err != nil {
				return fmt.Errorf("Set %s through %s: %w", k, coord.ID(), err)
			}
			want[k] = v
		}
		return nil
	}
	if err := write(c.Nodes[0], "before"); err != nil {
		return err
	}
	fmt.Printf("wrote %d keys with all nodes up\n", keysPer)

	// Two nodes crash.
	t0 := time.Now()
	c.Kill(3)
	c.Kill(4)
	if err := excluster.WaitDead(ctx, c.Live(), excluster.ID(3), excluster.ID(4)); err != nil {
		return err
	}
	fmt.Printf("n3 and n4 crashed; the others declared them dead after %v\n", time.Since(t0).Round(time.Millisecond))

	// Writes keep working: every one of them succeeds at QUORUM.
	if err := write(c.Nodes[1], "during"); err != nil {
		return err
	}
	for i := range 50 { // overwrite some old keys too
		k := fmt.Sprintf("before-%d", i)
		want[k] = "updated during outage"
		if err := c.Nodes[2].Set(ctx, k, []byte(want[k])); err != nil {
			return err
		}
	}
	var hintsStored uint64
	for _, n := range c.Live() {
		hintsStored += n.Metrics().HintsStored
	}
	fmt.Printf("with 2 of 5 nodes down: %d QUORUM writes succeeded; stand-ins kept %d hints for n3/n4\n", keysPer+50, hintsStored)
	if err := excluster.Checkf(hintsStored > 0, "no hints were stored for the dead replicas"); err != nil {
		return err
	}

	// Reads keep working. A key whose three replicas include both dead
	// nodes has one live replica: a QUORUM read cannot get its 2 answers and
	// fails fast with ErrQuorum, so the application reads it at ONE from the
	// surviving replica. Its QUORUM write may have been acknowledged by the
	// two stand-ins (sloppy quorum) a moment before the surviving replica
	// applied it, so a ONE read right after the write can still see the
	// previous value; it sees the new one as soon as that copy lands.
	quorumOK, fellBack, lagged := 0, 0, 0
	for k, v := range want {
		got, err := c.Nodes[0].Get(ctx, k)
		if errors.Is(err, gridkv.ErrQuorum) {
			fellBack++
			got, err = c.Nodes[0].Get(ctx, k, gridkv.WithConsistency(gridkv.One))
			if errors.Is(err, gridkv.ErrNotFound) || err == nil && string(got) != v {
				lagged++
				wctx, wcancel := context.WithTimeout(ctx, 2*time.Second)
				err = excluster.Poll(wctx, "the surviving replica of "+k+" to apply its write", func() bool {
					got, err = c.Nodes[0].Get(ctx, k, gridkv.WithConsistency(gridkv.One))
					return err == nil && string(got) == v || err != nil && !errors.Is(err, gridkv.ErrNotFound)
				})
				wcancel()
			}
		} else {
			quorumOK++
		}
		if err != nil || string(got) != v {
			reps, _ := c.Nodes[0].Ring().Replicas(k, 3, nil)
			return fmt.Errorf("%w: during the outage %s (replicas %v) reads %q, %v; want %q; local copies: %s", excluster.ErrCheck, k, reps, got, err, v, localCopies(c, k))
		}
	}
	fmt.Printf("all %d keys readable with the latest value: %d at QUORUM, %d (both other replicas down) at ONE\n", len(want), quorumOK, fellBack)
	if lagged > 0 {
		fmt.Printf("  (%d of the ONE reads first saw the previous value or none: their writes were acknowledged by two stand-ins before the live replica applied them)\n", lagged)
	}

	// The two nodes come back, empty (data lives in memory).
	t1 := time.Now()
	for _, i := range []int{3, 4} {
		if _, err := c.StartNode(ctx, i); err != nil {
			return err
		}
	}
	if err := excluster.WaitConverged(ctx, c.Live()); err != nil {
		return err
	}
	fmt.Printf("n3 and n4 restarted with empty stores; cluster whole again after %v\n", time.Since(t1).Round(time.Millisecond))
	if err := write(c.Nodes[3], "after"); err != nil {
		return err
	}

	// Converged: every replica of every key holds the latest value in its
	// local store. A ONE read on a replica is served from that store alone
	// (Metrics().LocalReads counts it), so it checks exactly that.
	err = excluster.Poll(ctx, "every replica to hold every key", func() bool { return missing(c, want) == 0 })
	if err != nil {
		return fmt.Errorf("%w (%d replica copies still missing or stale)", err, missing(c, want))
	}
	fmt.Printf("every replica holds every one of its %d keys %v after the restart\n", len(want), time.Since(t1).Round(time.Millisecond))

	var m gridkv.Metrics
	for _, n := range c.Live() {
		nm := n.Metrics()
		m.HintsStored += nm.HintsStored
		m.HintsDelivered += nm.HintsDelivered
		m.HintsDropped += nm.HintsDropped
		m.AntiEntropyRounds += nm.AntiEntropyRounds
		m.AntiEntropyKeysRepaired += nm.AntiEntropyKeysRepaired
		m.ReadRepairs += nm.ReadRepairs
		m.RebalanceKeysSent += nm.RebalanceKeysSent
	}
	fmt.Printf("  hints: %d stored, %d delivered, %d dropped\n", m.HintsStored, m.HintsDelivered, m.HintsDropped)
	fmt.Printf("  anti-entropy: %d rounds, %d entries repaired; read repairs: %d; rebalanced entries: %d\n",
		m.AntiEntropyRounds, m.AntiEntropyKeysRepaired, m.ReadRepairs, m.RebalanceKeysSent)
	if err := excluster.Checkf(m.HintsDelivered > 0, "no hint was delivered"); err != nil {
		return err
	}
	if err := excluster.Checkf(m.AntiEntropyKeysRepaired > 0, "anti-entropy repaired nothing, yet the restarted nodes were refilled"); err != nil {
		return err
	}
	fmt.Println("OK: high_availability")
	return nil
}

// missing counts (replica, key) pairs where the replica's local copy is
// absent or not the latest value.
func missing(c *excluster.Cluster, want map[string]string) int {
	byID := map[string]*gridkv.Node{}
	for _, n := range c.Live() {
		byID[n.ID()] = n
	}
	ctx := context.Background()
	miss := 0
	var buf []string
	for k, v := range want {
		buf, _ = c.Nodes[0].Ring().Replicas(k, 3, buf[:0])
		for _, id := range buf {
			n := byID[id]
			if n == nil { // a replica that is not running
				miss++
				continue
			}
			before := n.Metrics().LocalReads
			got, err := n.Get(ctx, k, gridkv.WithConsistency(gridkv.One))
			if err != nil || string(got) != v || n.Metrics().LocalReads == before {
				miss++
			}
		}
	}
	return miss
}

// localCopies describes each live node's local copy of key (for failure
// messages).
func localCopies(c *excluster.Cluster, key string) string {
	out := ""
	for _, n := range c.Live() {
		before := n.Metrics().LocalReads
		got, err := n.Get(context.Background(), key, gridkv.WithConsistency(gridkv.One))
		local := n.Metrics().LocalReads != before
		out += fmt.Sprintf("[%s local=%v %q %v] ", n.ID(), local, got, err)
	}
	return out
}
