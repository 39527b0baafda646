package swim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

// MemNetwork is an in-memory network for tests: transports created from it
// exchange datagrams and streams without sockets, and the test can inject
// faults: random drops, delay, partitions, stalled nodes (traffic held until
// resumed, as for a paused process whose kernel still accepts connections)
// and killed nodes (a black hole: datagrams vanish, dials time out).
//
// It is safe for concurrent use. Delayed datagrams are delivered by runtime
// timers; Close stops them.
type MemNetwork struct {
	mu      sync.Mutex
	rng     *rand.Rand
	nodes   map[string]*MemTransport
	drop    float64
	delay   time.Duration
	group   map[string]int
	stalled map[string]bool
	killed  map[string]bool
	held    []heldItem // deliveries waiting for a stalled node
	timers  map[*time.Timer]struct{}
	closed  bool
}

type heldItem struct {
	from, to string
	fn       func()
}

// NewMemNetwork returns an empty network; seed drives its random drops.
func NewMemNetwork(seed uint64) *MemNetwork {
	return &MemNetwork{
		rng:     rand.New(rand.NewPCG(seed, 11)),
		nodes:   map[string]*MemTransport{},
		group:   map[string]int{},
		stalled: map[string]bool{},
		killed:  map[string]bool{},
		timers:  map[*time.Timer]struct{}{},
	}
}

// NewTransport attaches a transport whose address is addr (any unique string).
func (n *MemNetwork) NewTransport(addr string) (*MemTransport, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.nodes[addr]; ok || addr == "" {
		return nil, fmt.Errorf("%w: address %q empty or in use", ErrInvalidConfig, addr)
	}
	t := &MemTransport{net: n, addr: addr, packets: make(chan Packet, 1024), streams: make(chan net.Conn, 64)}
	n.nodes[addr] = t
	return t, nil
}

// SetDrop sets the probability that a datagram is lost.
func (n *MemNetwork) SetDrop(p float64) { n.mu.Lock(); n.drop = p; n.mu.Unlock() }

// SetDelay sets the one-way delay of every datagram.
func (n *MemNetwork) SetDelay(d time.Duration) { n.mu.Lock(); n.delay = d; n.mu.Unlock() }

// Partition splits the network: addresses in different groups cannot reach
// each other; addresses in no group form group 0 with the first group.
func (n *MemNetwork) Partition(groups ...[]string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.group = map[string]int{}
	for i, g := range groups {
		for _, a := range g {
			n.group[a] = i
		}
	}
}

// Heal removes every partition.
func (n *MemNetwork) Heal() { n.mu.Lock(); n.group = map[string]int{}; n.mu.Unlock() }

// Stall holds all traffic to and from addr until Resume.
func (n *MemNetwork) Stall(addr string) { n.mu.Lock(); n.stalled[addr] = true; n.mu.Unlock() }

// Resume releases a stalled address and delivers what was held, in order.
func (n *MemNetwork) Resume(addr string) {
	n.mu.Lock()
	delete(n.stalled, addr)
	var release []func()
	keep := n.held[:0]
	for _, h := range n.held {
		if n.stalled[h.from] || n.stalled[h.to] {
			keep = append(keep, h)
		} else {
			release = append(release, h.fn)
		}
	}
	n.held = keep
	n.mu.Unlock()
	for _, fn := range release {
		fn()
	}
}

// Kill black-holes addr: its traffic vanishes and dials to it time out.
func (n *MemNetwork) Kill(addr string) { n.mu.Lock(); n.killed[addr] = true; n.mu.Unlock() }

// Close stops pending delayed deliveries.
func (n *MemNetwork) Close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.closed = true
	for t := range n.timers {
		t.Stop()
	}
	n.timers = map[*time.Timer]struct{}{}
}

// blocked reports whether from cannot reach to at all. Callers hold mu.
func (n *MemNetwork) blocked(from, to string) bool {
	return n.killed[from] || n.killed[to] || n.group[from] != n.group[to]
}

// send delivers a datagram, applying faults.
func (n *MemNetwork) send(from, to string, b []byte) {
	n.mu.Lock()
	defer n.mu.Unlock()
	dst := n.nodes[to]
	if n.closed || dst == nil || n.blocked(from, to) || (n.drop > 0 && n.rng.Float64() < n.drop) {
		return
	}
	data := append([]byte(nil), b...)
	deliver := func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.stalled[from] || n.stalled[to] {
			n.held = append(n.held, heldItem{from, to, func() { dst.deliver(Packet{Data: data, From: from, At: time.Now()}) }})
			return
		}
		if !n.blocked(from, to) {
			dst.deliver(Packet{Data: data, From: from, At: time.Now()})
		}
	}
	if n.delay <= 0 {
		if n.stalled[from] || n.stalled[to] {
			n.held = append(n.held, heldItem{from, to, func() { dst.deliver(Packet{Data: data, From: from, At: time.Now()}) }})
			return
		}
		dst.deliver(Packet{Data: data, From: from, At: time.Now()})
		return
	}
	var t *time.Timer
	t = time.AfterFunc(n.delay, func() {
		n.mu.Lock()
		delete(n.timers, t)
		n.mu.Unlock()
		deliver()
	})
	n.timers[t] = struct{}{}
}

func (n *MemNetwork) dial(ctx context.Context, from, to string) (net.Conn, error) {
	n.mu.Lock()
	dst := n.nodes[to]
	if dst == nil || n.closed {
		n.mu.Unlock()
		return nil, fmt.Errorf("%w: %s: connection refused", ErrUnreachable, to)
	}
	if n.blocked(from, to) {
		n.mu.Unlock()
		<-ctx.Done() // a black hole: the dial times out
		return nil, fmt.Errorf("%w: %s: %w", ErrUnreachable, to, ctx.Err())
	}
	client, server := net.Pipe()
	if n.stalled[from] || n.stalled[to] {
		n.held = append(n.held, heldItem{from, to, func() { dst.accept(server) }})
		n.mu.Unlock()
		return client, nil
	}
	n.mu.Unlock()
	if !dst.accept(server) {
		client.Close()
		return nil, fmt.Errorf("%w: %s: connection refused", ErrUnreachable, to)
	}
	return client, nil
}

// MemTransport is one endpoint of a MemNetwork.
type MemTransport struct {
	net     *MemNetwork
	addr    string
	mu      sync.Mutex
	closed  bool
	packets chan Packet
	streams chan net.Conn
}

var _ Transport = (*MemTransport)(nil)

func (t *MemTransport) deliver(p Packet) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	select {
	case t.packets <- p:
	default: // receive queue full: drop
	}
}

func (t *MemTransport) accept(c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		c.Close()
		return false
	}
	select {
	case t.streams <- c:
		return true
	default:
		c.Close()
		return false
	}
}

// Addr returns the transport's address.
func (t *MemTransport) Addr() string { return t.addr }

// WritePacket sends a datagram through the network's faults.
func (t *MemTransport) WritePacket(b []byte, addr string) error {
	t.net.send(t.addr, addr, b)
	return nil
}

// Packets yields received datagrams.
func (t *MemTransport) Packets() <-chan Packet { return t.packets }

// DialStream connects to addr (a net.Pipe).
func (t *MemTransport) DialStream(ctx context.Context, addr string) (net.Conn, error) {
	return t.net.dial(ctx, t.addr, addr)
}

// Streams yields accepted streams.
func (t *MemTransport) Streams() <-chan net.Conn { return t.streams }

// Close detaches the transport; its address may not be reused.
func (t *MemTransport) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	close(t.packets)
	close(t.streams)
	for c := range t.streams {
		c.Close()
	}
	return nil
}
