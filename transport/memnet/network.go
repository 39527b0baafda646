package memnet

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/gridkv/gridkv/transport"
)

// Delay draws a delivery delay from the network's seeded source.
type Delay func(r *rand.Rand) time.Duration

// UniformDelay returns a Delay uniform in [lo, hi].
func UniformDelay(lo, hi time.Duration) Delay {
	return func(r *rand.Rand) time.Duration {
		if hi <= lo {
			return lo
		}
		return lo + time.Duration(r.Int64N(int64(hi-lo)+1))
	}
}

// ErrUnknownNode is returned by Kill and Restart for an address with no
// endpoint.
var ErrUnknownNode = errors.New("memnet: unknown node")

// ErrAddrInUse is returned by Listen for an address already taken.
var ErrAddrInUse = errors.New("memnet: address in use")

// Network is an in-memory network of endpoints with seeded fault
// injection. All random choices (drop, duplicate, reorder, delay) come
// from one source seeded by NewNetwork, drawn in message send order: a
// test that sends from one goroutine sees the same faults on every run.
type Network struct {
	mu         sync.Mutex
	rng        *rand.Rand
	clock      Clock
	nodes      map[string]*Endpoint
	drop       float64
	dup        float64
	reorder    float64
	delay      Delay
	partitions []partition
	held       map[string][]func() // per destination: deliveries held back for reordering
	nextAuto   int

	// counters
	dropped, duplicated, reordered, delayed uint64
}

type partition struct{ a, b map[string]bool }

// NewNetwork returns a fault-free network using the wall clock for delays.
func NewNetwork(seed uint64) *Network {
	return &Network{
		rng:   rand.New(rand.NewPCG(seed, seed^0x243f6a8885a308d3)),
		clock: RealClock{},
		nodes: make(map[string]*Endpoint),
		held:  make(map[string][]func()),
	}
}

// SetClock sets the clock used for delays; use a *ManualClock in tests.
func (n *Network) SetClock(c Clock) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.clock = c
}

// SetDropRate makes each message (request, response, one-way, packet) be
// lost with probability p. A lost call ends only by its context.
func (n *Network) SetDropRate(p float64) { n.set(&n.drop, p) }

// SetDuplicateRate makes each message be delivered twice with
// probability p (a duplicated call runs its handler twice; the second
// response is dropped as late).
func (n *Network) SetDuplicateRate(p float64) { n.set(&n.dup, p) }

// SetReorderRate holds each message back with probability p until the
// next message to the same destination has been delivered, so the two
// arrive swapped. FlushHeld releases messages still held.
func (n *Network) SetReorderRate(p float64) { n.set(&n.reorder, p) }

func (n *Network) set(f *float64, p float64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	*f = min(max(p, 0), 1)
}

// SetDelay sets the delivery delay distribution (nil: immediate).
func (n *Network) SetDelay(d Delay) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.delay = d
}

// Partition cuts every link between a member of a and a member of b, in
// both directions, until Heal. Messages across the cut are lost.
func (n *Network) Partition(a, b []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	p := partition{a: map[string]bool{}, b: map[string]bool{}}
	for _, x := range a {
		p.a[x] = true
	}
	for _, x := range b {
		p.b[x] = true
	}
	n.partitions = append(n.partitions, p)
}

// Heal removes every partition.
func (n *Network) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.partitions = nil
}

// FlushHeld delivers every message held back for reordering.
func (n *Network) FlushHeld() {
	n.mu.Lock()
	var all []func()
	for dst, fs := range n.held {
		all = append(all, fs...)
		delete(n.held, dst)
	}
	n.mu.Unlock()
	for _, f := range all {
		f()
	}
}

// FaultCounts reports how many messages each fault affected.
type FaultCounts struct {
	Dropped, Duplicated, Reordered, Delayed uint64
}

// Faults returns the fault counters.
func (n *Network) Faults() FaultCounts {
	n.mu.Lock()
	defer n.mu.Unlock()
	return FaultCounts{n.dropped, n.duplicated, n.reordered, n.delayed}
}

// Kill crashes the node at addr: its handlers' contexts are cancelled,
// calls waiting on it (from any node) fail with transport.ErrConnClosed,
// calls it makes fail, and new calls to it fail with transport.ErrDial
// until Restart.
func (n *Network) Kill(addr string) error {
	n.mu.Lock()
	e := n.nodes[addr]
	var others []*Endpoint
	for a, o := range n.nodes {
		if a != addr {
			others = append(others, o)
		}
	}
	n.mu.Unlock()
	if e == nil {
		return fmt.Errorf("%w: %s", ErrUnknownNode, addr)
	}
	e.kill()
	for _, o := range others {
		o.peerDied(addr)
	}
	return nil
}

// Restart brings a killed node back with its handlers; peers count a
// reconnect on their next successful message to it.
func (n *Network) Restart(addr string) error {
	n.mu.Lock()
	e := n.nodes[addr]
	n.mu.Unlock()
	if e == nil {
		return fmt.Errorf("%w: %s", ErrUnknownNode, addr)
	}
	e.restart()
	return nil
}

func (n *Network) cut(from, to string) bool {
	for _, p := range n.partitions {
		if (p.a[from] && p.b[to]) || (p.b[from] && p.a[to]) {
			return true
		}
	}
	return false
}

// lookup returns the live endpoint at addr, or nil.
func (n *Network) lookup(addr string) *Endpoint {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.nodes[addr]
}

// deliver applies faults and runs fn (the delivery) zero, one or two
// times, now, later or after the next message to the same destination.
// It reports false if the message was lost.
func (n *Network) deliver(from, to string, fn func()) bool {
	n.mu.Lock()
	if n.cut(from, to) || (n.drop > 0 && n.rng.Float64() < n.drop) {
		n.dropped++
		n.mu.Unlock()
		return false
	}
	times := 1
	if n.dup > 0 && n.rng.Float64() < n.dup {
		n.duplicated++
		times = 2
	}
	var d time.Duration
	if n.delay != nil {
		d = n.delay(n.rng)
		if d > 0 {
			n.delayed++
		}
	}
	hold := n.reorder > 0 && n.rng.Float64() < n.reorder
	clock := n.clock
	run := func() {
		for range times {
			fn()
		}
	}
	if hold {
		n.reordered++
		n.held[to] = append(n.held[to], run)
		n.mu.Unlock()
		return true
	}
	released := n.held[to]
	delete(n.held, to)
	n.mu.Unlock()
	after := func() {
		run()
		for _, f := range released {
			f()
		}
	}
	if d > 0 {
		clock.AfterFunc(d, after)
	} else {
		after()
	}
	return true
}

var _ transport.Transport = (*Endpoint)(nil)
