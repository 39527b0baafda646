// Command strong_consistency shows quorum reads and writes on three nodes
// (N=3, W=2, R=2, so W+R > N): a write acknowledged through one node is read
// back through every other node at once; ALL writes reach every replica; and
// when too many replicas are down, calls fail with a typed *QuorumError
// instead of returning stale data. It exits non-zero if any of that fails.
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

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := excluster.Start(ctx, 3, func(_ int, o *gridkv.Options) {
		o.ReplicationFactor = 3
		o.WriteQuorum = 2 // W
		o.ReadQuorum = 2  // R: W+R > N, every read overlaps every write
		o.Consistency = gridkv.Quorum
	})
	if err != nil {
		return err
	}
	defer c.Close()
	n := c.Nodes
	fmt.Println("3 nodes, N=3 W=2 R=2 (QUORUM)")

	// Read-your-writes across nodes: each round writes through one node and
	// immediately reads through the next.
	const rounds = 300
	for i := range rounds {
		w, r := n[i%3], n[(i+1)%3]
		key := fmt.Sprintf("counter-%d", i%7) // keys are overwritten many times
		val := fmt.Sprintf("v%d", i)
		if err := w.Set(ctx, key, []byte(val)); err != nil {
			return fmt.Errorf("round %d: Set through %s: %w", i, w.ID(), err)
		}
		got, err := r.Get(ctx, key)
		if err != nil {
			return fmt.Errorf("round %d: Get through %s: %w", i, r.ID(), err)
		}
		if string(got) != val {
			return fmt.Errorf("%w: round %d: wrote %q through %s, read %q through %s", excluster.ErrCheck, i, val, w.ID(), got, r.ID())
		}
	}
	fmt.Printf("%d overwrites, each read back through a different node right after: all returned the latest value\n", rounds)

	// ALL: every replica acknowledged, so even a ONE read (served from the
	// local copy, no network) sees it on every node.
	if err := n[0].Set(ctx, "config", []byte("v2"), gridkv.WithConsistency(gridkv.All)); err != nil {
		return err
	}
	for _, node := range n {
		before := node.Metrics().LocalReads
		got, err := node.Get(ctx, "config", gridkv.WithConsistency(gridkv.One))
		if err != nil || string(got) != "v2" {
			return fmt.Errorf("%w: after an ALL write, %s's local copy is %q, %v", excluster.ErrCheck, node.ID(), got, err)
		}
		if node.Metrics().LocalReads != before+1 {
			return fmt.Errorf("%w: %s's ONE read was not served locally", excluster.ErrCheck, node.ID())
		}
	}
	fmt.Println("ALL write of config=v2: each node's local copy (ONE read, no network) holds v2")

	// One node down: QUORUM still works (2 of 3), ALL cannot.
	c.Kill(2)
	if err := excluster.WaitDead(ctx, c.Live(), excluster.ID(2)); err != nil {
		return err
	}
	fmt.Println("n2 crashed (and was declared dead by the others)")
	if err := n[0].Set(ctx, "config", []byte("v3")); err != nil {
		return fmt.Errorf("QUORUM write with one replica down: %w", err)
	}
	if got, err := n[1].Get(ctx, "config"); err != nil || string(got) != "v3" {
		return fmt.Errorf("QUORUM read with one replica down: %q, %v", got, err)
	}
	fmt.Println("  QUORUM write + read of config=v3: ok (2 of 3 replicas answered)")
	err = n[0].Set(ctx, "config", []byte("v4"), gridkv.WithConsistency(gridkv.All))
	if err := expectQuorumError("ALL write", err, 3); err != nil {
		return err
	}
	// A failed write is "maybe written": the live replicas may have applied
	// it (gridkv/doc.go). Show what a QUORUM read sees now.
	if got, err := n[1].Get(ctx, "config"); err == nil {
		fmt.Printf("  (a failed write may still be applied: a QUORUM read now returns %q)\n", got)
	}

	// Two nodes down: no quorum for reads or writes.
	c.Kill(1)
	if err := excluster.WaitDead(ctx, c.Live(), excluster.ID(1)); err != nil {
		return err
	}
	fmt.Println("n1 crashed too: only n0 is left")
	err = n[0].Set(ctx, "config", []byte("v5"))
	if err := expectQuorumError("QUORUM write", err, 2); err != nil {
		return err
	}
	_, err = n[0].Get(ctx, "config")
	if err := expectQuorumError("QUORUM read", err, 2); err != nil {
		return err
	}
	fmt.Println("OK: strong_consistency")
	return nil
}

// expectQuorumError checks that err is a *QuorumError needing `needed`
// answers and having fewer.
func expectQuorumError(what string, err error, needed int) error {
	var qe *gridkv.QuorumError
	if !errors.Is(err, gridkv.ErrQuorum) || !errors.As(err, &qe) {
		return fmt.Errorf("%w: %s: got %v, want a *gridkv.QuorumError", excluster.ErrCheck, what, err)
	}
	if qe.Needed != needed || qe.Acked >= qe.Needed {
		return fmt.Errorf("%w: %s: %d acks of %d needed; want fewer than %d", excluster.ErrCheck, what, qe.Acked, qe.Needed, needed)
	}
	fmt.Printf("  %s fails with *gridkv.QuorumError: gave up at %d acknowledgements, %d needed (errors.Is(err, gridkv.ErrQuorum) = true)\n", what, qe.Acked, qe.Needed)
	return nil
}
