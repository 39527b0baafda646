// Package excluster holds what several examples share: an in-process
// cluster on the in-memory network, membership settings that detect
// failures within about a second, and waits that poll real conditions
// (membership, failure detection) until a deadline.
//
// It is example scaffolding, not a supported API; the quickstart example
// deliberately does without it so that its code can be copied as is.
package excluster

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/gridkv/gridkv/gridkv"
	"github.com/gridkv/gridkv/swim"
	"github.com/gridkv/gridkv/transport/memnet"
)

// FastMembership returns membership settings for one host: a crashed node is
// declared dead within about a second instead of the LAN profile's ~10 s.
// Never use such short timeouts across a real network.
func FastMembership() *swim.Config {
	m := swim.DefaultLocalConfig()
	m.ProbeInterval = 150 * time.Millisecond
	m.ProbeTimeout = 75 * time.Millisecond
	m.SuspicionMult = 3
	m.SuspicionMaxTimeoutMult = 2
	m.UnreachableSuspicionTimeout = 300 * time.Millisecond
	m.GossipInterval = 30 * time.Millisecond
	m.PushPullInterval = time.Second
	m.StreamTimeout = time.Second
	m.ReconnectInterval = 300 * time.Millisecond
	m.AwarenessMaxMultiplier = 2
	return &m
}

// Cluster is a set of gridkv nodes in this process, talking over an
// in-memory network (no sockets).
type Cluster struct {
	Net   *memnet.Network
	Nodes []*gridkv.Node // index i is node "n<i>"; nil or stopped after Kill/Stop
	// Joined is how long Start took until every node had joined (WaitReady);
	// Start returns later, once every ring holds every node.
	Joined time.Duration
	down   map[int]bool
	mod    func(i int, o *gridkv.Options)
}

// Start starts size nodes ("n0".."n<size-1>", n0 being every other node's
// seed; all join at once), waits until each has joined and until every
// node's ring holds all of them. mod, when not nil, adjusts each node's
// options.
func Start(ctx context.Context, size int, mod func(i int, o *gridkv.Options)) (*Cluster, error) {
	return start(ctx, size, mod, Converged)
}

// New returns an empty cluster: start nodes with StartNode or Launch.
func New(mod func(i int, o *gridkv.Options)) *Cluster {
	return &Cluster{Net: memnet.NewNetwork(1), down: map[int]bool{}, mod: mod}
}

func start(ctx context.Context, size int, mod func(i int, o *gridkv.Options), done func([]*gridkv.Node) bool) (*Cluster, error) {
	c := New(mod)
	t0 := time.Now()
	for i := range size {
		if _, err := c.Launch(i); err != nil {
			c.Close()
			return nil, err
		}
	}
	for i, n := range c.Nodes {
		if err := n.WaitReady(ctx); err != nil {
			c.Close()
			return nil, fmt.Errorf("%s did not join: %w", ID(i), err)
		}
	}
	c.Joined = time.Since(t0)
	live := c.Live()
	if err := Poll(ctx, fmt.Sprintf("%d nodes to see each other", size), func() bool { return done(live) }); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Addr is node i's address on the in-memory network. It is only a name
// there (no socket is opened), but it is written as an IP literal: swim
// resolves a seed's host name through DNS on every push-pull, and a name
// like "n0:7480" sends real DNS queries, which stalled joins for seconds
// when dozens of nodes joined at once.
func Addr(i int) string { return fmt.Sprintf("127.0.0.1:%d", 17000+i) }

// ID is node i's ID.
func ID(i int) string { return fmt.Sprintf("n%d", i) }

// Options returns the options node i starts with: fast membership, node 0
// as seed, then mod applied.
func (c *Cluster) Options(i int) gridkv.Options {
	o := gridkv.DefaultOptions()
	o.NodeID = ID(i)
	o.Membership = FastMembership()
	o.RequestTimeout = 500 * time.Millisecond
	o.HintInterval = 50 * time.Millisecond
	if i > 0 {
		o.Seeds = []string{Addr(0)}
	}
	if c.mod != nil {
		c.mod(i, &o)
	}
	return o
}

// StartNode starts node i (again, after Kill: same ID and address, empty
// store) and waits until it has joined.
func (c *Cluster) StartNode(ctx context.Context, i int) (*gridkv.Node, error) {
	n, err := c.Launch(i)
	if err != nil {
		return nil, err
	}
	if err := n.WaitReady(ctx); err != nil {
		return nil, fmt.Errorf("%s did not join: %w", ID(i), err)
	}
	return n, nil
}

// Launch starts node i; it joins in the background (see
// gridkv.Node.WaitReady).
func (c *Cluster) Launch(i int) (*gridkv.Node, error) {
	ep, err := c.Net.Listen(Addr(i), memnet.DefaultConfig())
	if err != nil {
		return nil, err
	}
	o := c.Options(i)
	o.Transport = ep
	n, err := gridkv.New(o)
	if err != nil {
		ep.Close()
		return nil, fmt.Errorf("start %s: %w", ID(i), err)
	}
	for len(c.Nodes) <= i {
		c.Nodes = append(c.Nodes, nil)
	}
	c.Nodes[i] = n
	delete(c.down, i)
	return n, nil
}

// Kill crashes node i: it stops without telling anyone.
func (c *Cluster) Kill(i int) {
	c.Nodes[i].Kill()
	c.down[i] = true
}

// Live returns the nodes not killed.
func (c *Cluster) Live() []*gridkv.Node {
	var out []*gridkv.Node
	for i, n := range c.Nodes {
		if n != nil && !c.down[i] {
			out = append(out, n)
		}
	}
	return out
}

// Close stops every live node gracefully (each leaves the cluster), all at
// once: one by one, a 50-node cluster takes tens of seconds to leave.
func (c *Cluster) Close() {
	var wg sync.WaitGroup
	for i, n := range c.Nodes {
		if n != nil && !c.down[i] {
			c.down[i] = true
			wg.Add(1)
			go func() {
				defer wg.Done()
				n.Close()
			}()
		}
	}
	wg.Wait()
}

// Poll checks cond every few milliseconds until it holds, or fails with a
// message naming what was awaited when ctx ends. It waits for things other
// goroutines do (gossip, background delivery); it never replaces ordering.
func Poll(ctx context.Context, what string, cond func() bool) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for %s: %w", what, ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// Converged reports whether every node's ring holds exactly these nodes and
// every node sees all of them alive.
func Converged(nodes []*gridkv.Node) bool {
	for _, n := range nodes {
		if n.Ring().Len() != len(nodes) {
			return false
		}
		states := map[string]string{}
		for _, m := range n.Members() {
			states[m.ID] = m.State
		}
		for _, m := range nodes {
			if states[m.ID()] != "alive" {
				return false
			}
		}
	}
	return true
}

// WaitConverged waits until Converged(nodes).
func WaitConverged(ctx context.Context, nodes []*gridkv.Node) error {
	return Poll(ctx, fmt.Sprintf("%d nodes to see each other", len(nodes)), func() bool { return Converged(nodes) })
}

// SeenDead reports whether every observer sees each of ids as dead.
func SeenDead(observers []*gridkv.Node, ids ...string) bool {
	for _, n := range observers {
		states := map[string]string{}
		for _, m := range n.Members() {
			states[m.ID] = m.State
		}
		for _, id := range ids {
			if states[id] != "dead" {
				return false
			}
		}
	}
	return true
}

// WaitDead waits until every observer sees each of ids as dead.
func WaitDead(ctx context.Context, observers []*gridkv.Node, ids ...string) error {
	return Poll(ctx, fmt.Sprintf("%v to be declared dead", ids), func() bool { return SeenDead(observers, ids...) })
}

// Percentiles returns the p-th percentiles (0 < p ≤ 100) of samples, which
// it sorts.
func Percentiles(samples []time.Duration, ps ...float64) []time.Duration {
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	out := make([]time.Duration, len(ps))
	if len(samples) == 0 {
		return out
	}
	for i, p := range ps {
		k := int(float64(len(samples))*p/100+0.5) - 1
		out[i] = samples[min(max(k, 0), len(samples)-1)]
	}
	return out
}

// ErrCheck marks a demonstrated property that did not hold.
var ErrCheck = errors.New("check failed")

// Checkf returns an ErrCheck-wrapped error when ok is false.
func Checkf(ok bool, format string, args ...any) error {
	if ok {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrCheck, fmt.Sprintf(format, args...))
}
