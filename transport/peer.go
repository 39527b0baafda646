package transport

import (
	"sync"
	"sync/atomic"
	"time"
)

// peer is everything known about one remote address: its counters and the
// slots of outbound connections calls are spread over.
type peer struct {
	addr  string
	ctr   PeerCounters
	mu    sync.Mutex // guards slot dial state
	slots []*slot
	rr    atomic.Uint32
}

type slot struct {
	s             atomic.Pointer[session]
	dialing       chan struct{} // closed when the running dial ends
	failures      int
	retryAt       time.Time
	lastErr       error
	everConnected bool
}

func newPeer(addr string, conns int) *peer {
	p := &peer{addr: addr, slots: make([]*slot, conns)}
	for i := range p.slots {
		p.slots[i] = &slot{}
	}
	return p
}
