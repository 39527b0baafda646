package gridkv

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gridkv/gridkv/swim"
	"github.com/gridkv/gridkv/transport/memnet"
)

// testCluster is a cluster of nodes on an in-memory network.
type testCluster struct {
	t     testing.TB
	net   *memnet.Network
	nodes []*Node
	mod   func(i int, o *Options)
}

func testOptions() Options {
	o := DefaultOptions()
	m := swim.DefaultLocalConfig()
	m.ProbeInterval = 200 * time.Millisecond
	m.ProbeTimeout = 120 * time.Millisecond
	m.SuspicionMult = 3
	m.SuspicionMaxTimeoutMult = 2
	m.UnreachableSuspicionTimeout = 300 * time.Millisecond
	m.GossipInterval = 30 * time.Millisecond
	m.PushPullInterval = time.Second
	m.StreamTimeout = 3 * time.Second
	m.ReconnectInterval = 300 * time.Millisecond
	m.AwarenessMaxMultiplier = 2
	o.Membership = &m
	o.RequestTimeout = 500 * time.Millisecond
	o.HintInterval = 20 * time.Millisecond
	o.AntiEntropyInterval = 0 // tests run rounds explicitly
	o.TombstoneGrace = time.Hour
	return o
}

func newCluster(t testing.TB, size int, mod func(i int, o *Options)) *testCluster {
	t.Helper()
	c := &testCluster{t: t, net: memnet.NewNetwork(1), mod: mod}
	t.Cleanup(c.close)
	for i := range size {
		c.start(i)
	}
	c.waitConverged()
	return c
}

// addrOf names node i on the in-memory network. The names are IP literals
// so that swim's seed resolution never asks DNS about them.
func addrOf(i int) string { return fmt.Sprintf("127.0.0.1:%d", 17000+i) }

// start starts node i (again, after a kill) and waits until it is ready.
func (c *testCluster) start(i int) *Node {
	c.t.Helper()
	ep, err := c.net.Listen(addrOf(i), memnet.DefaultConfig())
	if err != nil {
		c.t.Fatal(err)
	}
	o := testOptions()
	o.NodeID = fmt.Sprintf("n%d", i)
	o.Transport = ep
	if i > 0 {
		o.Seeds = []string{addrOf(0)}
	}
	if c.mod != nil {
		c.mod(i, &o)
	}
	n, err := New(o)
	if err != nil {
		c.t.Fatal(err)
	}
	for len(c.nodes) <= i {
		c.nodes = append(c.nodes, nil)
	}
	c.nodes[i] = n
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.WaitReady(ctx); err != nil {
		c.t.Fatalf("node %d not ready: %v", i, err)
	}
	return n
}

func (c *testCluster) close() {
	for _, n := range c.nodes {
		if n != nil {
			n.Kill()
		}
	}
}

// live returns the nodes not stopped.
func (c *testCluster) live() []*Node {
	var out []*Node
	for _, n := range c.nodes {
		if n != nil && !n.closed.Load() {
			out = append(out, n)
		}
	}
	return out
}

// waitConverged waits until every live node's ring holds exactly the live
// nodes, all healthy.
func (c *testCluster) waitConverged() {
	c.t.Helper()
	live := c.live()
	waitFor(c.t, 30*time.Second, "ring convergence", func() bool {
		for _, n := range live {
			st := n.view.current()
			if st.ring.Len() != len(live) {
				return false
			}
			for _, m := range live {
				if _, ok := st.ring.Member(m.id); !ok || !st.healthy[m.id] {
					return false
				}
			}
		}
		return true
	})
}

// waitFor polls cond until it holds or the timeout passes. It waits for a
// condition produced by other goroutines (gossip, background delivery); it
// is not a stand-in for ordering.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestClusterSetGetDelete(t *testing.T) {
	c := newCluster(t, 3, nil)
	ctx := ctxT(t)
	a, b := c.nodes[0], c.nodes[2]
	if err := a.Set(ctx, "k1", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	got, err := b.Get(ctx, "k1")
	if err != nil || string(got) != "v1" {
		t.Fatalf("Get = %q, %v", got, err)
	}
	if err := b.Delete(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get(ctx, "k1"); err != ErrNotFound {
		t.Fatalf("Get after delete = %v, want ErrNotFound", err)
	}
}
