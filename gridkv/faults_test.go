package gridkv

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/gridkv/gridkv/transport"
)

// errInjected is the failure the fault layer returns for a cut link or a
// dropped message.
var errInjected = errors.New("injected network fault")

// faultNet decides, for every message between two node addresses, whether
// it is delivered, delayed or lost. It sits between a node and its real
// transport (memnet or loopback sockets), so the same faults apply to both.
// All randomness comes from one seeded source.
type faultNet struct {
	mu       sync.Mutex
	rng      *rand.Rand
	cut      map[[2]string]bool   // from -> to links that lose everything
	paused   map[string]time.Time // node -> end of its stall
	dropRate float64
	maxDelay time.Duration
}

func newFaultNet(seed uint64) *faultNet {
	return &faultNet{rng: rand.New(rand.NewPCG(seed, 0xfa17)), cut: map[[2]string]bool{}, paused: map[string]time.Time{}}
}

// cutLinks cuts every link from a member of a to a member of b; both
// directions unless oneWay.
func (f *faultNet) cutLinks(a, b []string, oneWay bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, x := range a {
		for _, y := range b {
			f.cut[[2]string{x, y}] = true
			if !oneWay {
				f.cut[[2]string{y, x}] = true
			}
		}
	}
}

func (f *faultNet) pause(addr string, d time.Duration) {
	f.mu.Lock()
	f.paused[addr] = time.Now().Add(d)
	f.mu.Unlock()
}

func (f *faultNet) setLossy(drop float64, maxDelay time.Duration) {
	f.mu.Lock()
	f.dropRate, f.maxDelay = drop, maxDelay
	f.mu.Unlock()
}

// heal removes every fault.
func (f *faultNet) heal() {
	f.mu.Lock()
	f.cut = map[[2]string]bool{}
	f.paused = map[string]time.Time{}
	f.dropRate, f.maxDelay = 0, 0
	f.mu.Unlock()
}

// verdict returns whether a message from -> to is lost and how long it is
// held first.
func (f *faultNet) verdict(from, to string) (lost bool, delay time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cut[[2]string{from, to}] {
		return true, 0
	}
	if f.dropRate > 0 && f.rng.Float64() < f.dropRate {
		return true, 0
	}
	if f.maxDelay > 0 {
		delay = time.Duration(f.rng.Int64N(int64(f.maxDelay)))
	}
	now := time.Now()
	for _, a := range []string{from, to} {
		if end, ok := f.paused[a]; ok && end.After(now) {
			delay = max(delay, end.Sub(now))
		}
	}
	return false, delay
}

// stalled returns how long addr stays paused.
func (f *faultNet) stalled(addr string) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	if end, ok := f.paused[addr]; ok {
		return time.Until(end)
	}
	return 0
}

// hold waits d or until ctx ends.
func hold(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// faultTransport wraps one node's transport with the faults of net.
type faultTransport struct {
	transport.Transport
	net *faultNet
}

func (t *faultTransport) Call(ctx context.Context, addr string, mt transport.MsgType, payload []byte) ([]byte, error) {
	self := t.Addr()
	lost, delay := t.net.verdict(self, addr)
	if err := hold(ctx, delay); err != nil {
		return nil, err
	}
	if lost {
		return nil, errInjected
	}
	resp, err := t.Transport.Call(ctx, addr, mt, payload)
	// The request was handled; the reply may still be lost or late.
	lost, delay = t.net.verdict(addr, self)
	if err := hold(ctx, delay); err != nil {
		return nil, err
	}
	if lost {
		return nil, errInjected
	}
	return resp, err
}

func (t *faultTransport) Send(ctx context.Context, addr string, mt transport.MsgType, payload []byte) error {
	lost, delay := t.net.verdict(t.Addr(), addr)
	if err := hold(ctx, delay); err != nil {
		return err
	}
	if lost {
		return nil // one-way messages vanish silently
	}
	return t.Transport.Send(ctx, addr, mt, payload)
}

func (t *faultTransport) SendPacket(addr string, pkt []byte) error {
	lost, delay := t.net.verdict(t.Addr(), addr)
	if lost || delay > 0 {
		return nil // a late datagram is as good as lost to SWIM's timers
	}
	return t.Transport.SendPacket(addr, pkt)
}

// HandleInline registers h on the pool instead, so that a stalled node's
// handlers wait there rather than on the connection reader.
func (t *faultTransport) HandleInline(mt transport.MsgType, h transport.Handler) error {
	return t.Handle(mt, h)
}

// Handle stalls inbound requests while this node is paused.
func (t *faultTransport) Handle(mt transport.MsgType, h transport.Handler) error {
	self := t.Addr()
	return t.Transport.Handle(mt, func(ctx context.Context, from string, payload []byte) ([]byte, error) {
		if err := hold(ctx, t.net.stalled(self)); err != nil {
			return nil, err
		}
		return h(ctx, from, payload)
	})
}
