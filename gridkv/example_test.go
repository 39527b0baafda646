package gridkv_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gridkv/gridkv/gridkv"
	"github.com/gridkv/gridkv/transport/memnet"
)

// Example starts three nodes on an in-memory network, writes through one and
// reads through another.
func Example() {
	network := memnet.NewNetwork(1)
	var nodes []*gridkv.Node
	for i := range 3 {
		// In-memory addresses are only names; IP literals keep seed
		// resolution away from DNS.
		ep, err := network.Listen(fmt.Sprintf("127.0.0.1:%d", 17000+i), memnet.DefaultConfig())
		if err != nil {
			panic(err)
		}
		opts := gridkv.DefaultOptions()
		opts.NodeID = fmt.Sprintf("node%d", i)
		opts.Transport = ep // real deployments set BindAddr instead
		opts.Gossip = gridkv.GossipLocal
		if i > 0 {
			opts.Seeds = []string{"127.0.0.1:17000"}
		}
		n, err := gridkv.New(opts)
		if err != nil {
			panic(err)
		}
		defer n.Close()
		nodes = append(nodes, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, n := range nodes {
		if err := n.WaitReady(ctx); err != nil {
			panic(err)
		}
	}
	for _, n := range nodes { // wait until gossip has reached every node
		for n.Ring().Len() < 3 {
			time.Sleep(10 * time.Millisecond)
		}
	}

	if err := nodes[0].Set(ctx, "greeting", []byte("hello"), gridkv.WithTTL(time.Minute)); err != nil {
		panic(err)
	}
	v, err := nodes[2].Get(ctx, "greeting")
	fmt.Println(string(v), err)

	_ = nodes[1].Delete(ctx, "greeting")
	_, err = nodes[0].Get(ctx, "greeting")
	fmt.Println(errors.Is(err, gridkv.ErrNotFound))
	// Output:
	// hello <nil>
	// true
}

// ExampleWithConsistency shows per-call consistency levels.
func ExampleWithConsistency() {
	opts := gridkv.DefaultOptions()
	opts.BindAddr = "127.0.0.1:0"
	opts.ReplicationFactor = 1 // a single-node store
	n, err := gridkv.New(opts)
	if err != nil {
		panic(err)
	}
	defer n.Close()
	ctx := context.Background()
	_ = n.Set(ctx, "k", []byte("v"), gridkv.WithConsistency(gridkv.All))
	v, err := n.Get(ctx, "k", gridkv.WithConsistency(gridkv.One)) // served locally
	fmt.Println(string(v), err, n.Metrics().LocalReads)
	// Output: v <nil> 1
}

// ExampleQuorumError shows how a failed quorum is reported.
func ExampleQuorumError() {
	err := error(&gridkv.QuorumError{Op: gridkv.OpSet, Acked: 1, Needed: 2, Replicas: 3})
	var qe *gridkv.QuorumError
	if errors.Is(err, gridkv.ErrQuorum) && errors.As(err, &qe) {
		fmt.Printf("%d of %d acknowledgements\n", qe.Acked, qe.Needed)
	}
	// Output: 1 of 2 acknowledgements
}
