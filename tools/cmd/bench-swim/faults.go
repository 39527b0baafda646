package main

import (
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// faults is the fault-injecting layer shared by both implementations: it
// counts bytes, drops datagrams at random, black-holes killed nodes and
// holds the traffic of a stalled node until it resumes. Every fault is
// applied on the sending side, where both endpoints are known.
type faults struct {
	mu      sync.Mutex
	rng     *rand.Rand
	drop    float64
	killed  map[string]bool
	stalled map[string]bool
	held    []func()
	resumed chan struct{} // closed and replaced by resume

	packetBytes atomic.Int64
	streamBytes atomic.Int64
}

func newFaults(seed uint64) *faults {
	return &faults{
		rng: rand.New(rand.NewPCG(seed, 3)), killed: map[string]bool{}, stalled: map[string]bool{},
		resumed: make(chan struct{}),
	}
}

func (f *faults) setDrop(p float64) { f.mu.Lock(); f.drop = p; f.mu.Unlock() }
func (f *faults) kill(addr string)  { f.mu.Lock(); f.killed[addr] = true; f.mu.Unlock() }
func (f *faults) stall(addr string) { f.mu.Lock(); f.stalled[addr] = true; f.mu.Unlock() }

func (f *faults) resume(addr string) {
	f.mu.Lock()
	delete(f.stalled, addr)
	held := f.held
	f.held = nil
	close(f.resumed)
	f.resumed = make(chan struct{})
	f.mu.Unlock()
	for _, fn := range held {
		fn()
	}
}

type fate int

const (
	deliver fate = iota
	drop
	hold
)

// packet decides the fate of a datagram from src to dst and counts it.
func (f *faults) packet(src, dst string, n int, send func()) {
	f.packetBytes.Add(int64(n))
	f.mu.Lock()
	switch {
	case f.killed[src] || f.killed[dst]:
	case f.drop > 0 && f.rng.Float64() < f.drop:
	case f.stalled[src] || f.stalled[dst]:
		f.held = append(f.held, send)
	default:
		f.mu.Unlock()
		send()
		return
	}
	f.mu.Unlock()
}

// dialFate says whether a dial from src to dst is black-holed.
func (f *faults) blackHoled(src, dst string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.killed[src] || f.killed[dst]
}

// wrapConn counts the bytes of a dialled stream and blocks its I/O while
// either end is stalled (the peer's kernel accepted it, its process is not
// running).
func (f *faults) wrapConn(c net.Conn, src, dst string) net.Conn {
	return &faultConn{Conn: c, f: f, src: src, dst: dst}
}

type faultConn struct {
	net.Conn
	f        *faults
	src, dst string
	mu       sync.Mutex
	deadline time.Time
}

func (c *faultConn) waitRunnable() error {
	for {
		c.f.mu.Lock()
		stalled := c.f.stalled[c.src] || c.f.stalled[c.dst]
		killed := c.f.killed[c.src] || c.f.killed[c.dst]
		ch := c.f.resumed
		c.f.mu.Unlock()
		if !stalled && !killed {
			return nil
		}
		c.mu.Lock()
		dl := c.deadline
		c.mu.Unlock()
		var timeout <-chan time.Time
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return os.ErrDeadlineExceeded
			}
			t := time.NewTimer(d)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-ch:
		case <-timeout:
			return os.ErrDeadlineExceeded
		}
	}
}

func (c *faultConn) Read(b []byte) (int, error) {
	if err := c.waitRunnable(); err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(b)
	c.f.streamBytes.Add(int64(n))
	return n, err
}

func (c *faultConn) Write(b []byte) (int, error) {
	if err := c.waitRunnable(); err != nil {
		return 0, err
	}
	n, err := c.Conn.Write(b)
	c.f.streamBytes.Add(int64(n))
	return n, err
}

func (c *faultConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

func (c *faultConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}
