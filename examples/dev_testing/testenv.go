package main

import (
	"context"
	"fmt"
	"time"

	"github.com/gridkv/gridkv/gridkv"
	"github.com/gridkv/gridkv/hlc"
	"github.com/gridkv/gridkv/swim"
	"github.com/gridkv/gridkv/transport/memnet"
)

// The two ways an application's tests get a GridKV: a single node whose
// clock the test moves by hand, or a small cluster on an in-memory network
// the test can cut. Neither opens a socket.

// newSingleNode returns a one-node store (N=1) on an in-memory endpoint,
// whose notion of time (versions, TTLs) is clock.
func newSingleNode(clock *hlc.ManualClock) (*gridkv.Node, error) {
	ep, err := memnet.NewNetwork(1).Listen("127.0.0.1:17000", memnet.DefaultConfig())
	if err != nil {
		return nil, err
	}
	o := gridkv.DefaultOptions()
	o.ReplicationFactor = 1 // one copy, W=R=1
	o.Transport = ep        // no socket
	o.WallClock = clock.Now // TTLs expire when the test says so
	return gridkv.New(o)
}

// testCluster is three nodes on one in-memory network.
type testCluster struct {
	net   *memnet.Network
	nodes []*gridkv.Node
}

// clusterAddr is node i's address. On the in-memory network it is only a
// name, but write it as an IP literal: the membership protocol resolves a
// host name such as "node0:7480" through DNS on every state exchange.
func clusterAddr(i int) string { return fmt.Sprintf("127.0.0.1:%d", 17000+i) }

// newTestCluster starts three nodes (N=3, QUORUM) on an in-memory network,
// with failure detection fast enough for tests, and waits until they all
// see each other.
func newTestCluster(ctx context.Context) (*testCluster, error) {
	c := &testCluster{net: memnet.NewNetwork(42)} // the seed fixes injected faults
	for i := range 3 {
		ep, err := c.net.Listen(clusterAddr(i), memnet.DefaultConfig())
		if err != nil {
			c.close()
			return nil, err
		}
		o := gridkv.DefaultOptions()
		o.NodeID = fmt.Sprintf("node%d", i)
		o.Transport = ep
		m := swim.DefaultLocalConfig() // then shorten failure detection
		m.ProbeInterval, m.ProbeTimeout = 150*time.Millisecond, 75*time.Millisecond
		m.UnreachableSuspicionTimeout = 300 * time.Millisecond
		m.SuspicionMult, m.SuspicionMaxTimeoutMult = 3, 2
		// An isolated node sees its own probes fail and slows down (Lifeguard
		// local health, up to 8x by default); cap that so that the cut-off
		// side also notices the partition within a second or two.
		m.AwarenessMaxMultiplier = 2
		m.GossipInterval = 30 * time.Millisecond
		m.ReconnectInterval = 300 * time.Millisecond // rejoin quickly after Heal
		o.Membership = &m
		o.RequestTimeout = 500 * time.Millisecond
		if i > 0 {
			o.Seeds = []string{clusterAddr(0)}
		}
		n, err := gridkv.New(o)
		if err != nil {
			c.close()
			return nil, err
		}
		c.nodes = append(c.nodes, n)
		if err := n.WaitReady(ctx); err != nil {
			c.close()
			return nil, err
		}
	}
	if err := c.waitAlive(ctx, c.nodes, len(c.nodes)); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// waitAlive polls until each observer sees want members alive (itself
// included).
func (c *testCluster) waitAlive(ctx context.Context, observers []*gridkv.Node, want int) error {
	for {
		ok := true
		for _, n := range observers {
			alive := 0
			for _, m := range n.Members() {
				if m.State == "alive" {
					alive++
				}
			}
			ok = ok && alive == want
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d live members: %w", want, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (c *testCluster) close() {
	for _, n := range c.nodes {
		n.Close()
	}
}
