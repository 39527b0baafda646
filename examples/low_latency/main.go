// Command low_latency compares a read at ONE (R=1) served from the local
// replica, without touching the network, with a QUORUM read (R=2) that asks
// other nodes over loopback TCP. It prints both latency distributions and
// exits non-zero unless every ONE read was served locally and was faster
// than the quorum read at the median.
package main

import (
	"context"
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
	keys  = 1000
	reads = 5000
)

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// Three nodes on loopback sockets, N=3: every node holds every key.
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
	for i := range keys {
		// ALL: every replica has the value before we start reading.
		if err := nodes[0].Set(ctx, key(i), []byte(fmt.Sprintf("value-%d", i)), gridkv.WithConsistency(gridkv.All)); err != nil {
			return err
		}
	}
	fmt.Printf("3 nodes on loopback TCP, N=3, %d keys written at ALL\n", keys)

	reader := nodes[1]
	names, values := make([]string, keys), make([]string, keys)
	for i := range keys {
		names[i], values[i] = key(i), fmt.Sprintf("value-%d", i)
	}
	measure := func(c gridkv.Consistency) ([]time.Duration, error) {
		lat := make([]time.Duration, 0, reads)
		for i := range reads {
			k := i % keys
			t := time.Now()
			v, err := reader.Get(ctx, names[k], gridkv.WithConsistency(c))
			lat = append(lat, time.Since(t))
			if err != nil || string(v) != values[k] {
				return nil, fmt.Errorf("%w: %v read of %s = %q, %v", excluster.ErrCheck, c, names[k], v, err)
			}
		}
		return lat, nil
	}
	local0 := reader.Metrics().LocalReads
	one, err := measure(gridkv.One)
	if err != nil {
		return err
	}
	localReads := reader.Metrics().LocalReads - local0
	quorum, err := measure(gridkv.Quorum)
	if err != nil {
		return err
	}
	if localAfter := reader.Metrics().LocalReads - local0; localAfter != localReads {
		return fmt.Errorf("%w: QUORUM reads were counted as local reads", excluster.ErrCheck)
	}
	o := excluster.Percentiles(one, 50, 99, 99.9)
	q := excluster.Percentiles(quorum, 50, 99, 99.9)
	fmt.Printf("%-28s %10s %10s %10s\n", "", "p50", "p99", "p99.9")
	fmt.Printf("%-28s %10v %10v %10v\n", "ONE (R=1, local replica)", o[0], o[1], o[2])
	fmt.Printf("%-28s %10v %10v %10v\n", "QUORUM (R=2, over TCP)", q[0], q[1], q[2])
	fmt.Printf("median ratio QUORUM/ONE: %.0fx (%d reads each, one caller, 2 shared cores are noisy)\n", float64(q[0])/float64(o[0]), reads)
	fmt.Printf("%d of %d ONE reads were served from the local store (Metrics().LocalReads)\n", localReads, reads)
	if err := excluster.Checkf(localReads == reads, "only %d of %d ONE reads were local", localReads, reads); err != nil {
		return err
	}
	if err := excluster.Checkf(o[0] < q[0], "local reads were not faster at the median (%v vs %v)", o[0], q[0]); err != nil {
		return err
	}
	fmt.Println("OK: low_latency")
	return nil
}

func key(i int) string { return fmt.Sprintf("user:%d", i) }
