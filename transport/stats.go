package transport

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// HistogramBuckets is the number of latency buckets. Bucket i counts
// latencies in [2^(i-1), 2^i) microseconds (bucket 0: below 1 µs); the last
// bucket also holds everything slower.
const HistogramBuckets = 28

// Histogram is a snapshot of a log2 latency histogram.
type Histogram struct {
	Counts [HistogramBuckets]uint64
}

// BucketUpper returns the exclusive upper bound of bucket i.
func BucketUpper(i int) time.Duration { return time.Duration(1<<uint(i)) * time.Microsecond }

// Count returns the number of observations.
func (h Histogram) Count() uint64 {
	var n uint64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// Quantile returns the upper bound of the bucket holding quantile q
// (0 < q <= 1), or 0 when the histogram is empty.
func (h Histogram) Quantile(q float64) time.Duration {
	n := h.Count()
	if n == 0 {
		return 0
	}
	rank := uint64(q * float64(n))
	if rank == 0 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.Counts {
		seen += c
		if seen >= rank {
			return BucketUpper(i)
		}
	}
	return BucketUpper(HistogramBuckets - 1)
}

type histogram struct {
	counts [HistogramBuckets]atomic.Uint64
}

func (h *histogram) observe(d time.Duration) {
	us := uint64(d / time.Microsecond)
	i := bits.Len64(us)
	if i >= HistogramBuckets {
		i = HistogramBuckets - 1
	}
	h.counts[i].Add(1)
}

func (h *histogram) snapshot() Histogram {
	var s Histogram
	for i := range h.counts {
		s.Counts[i] = h.counts[i].Load()
	}
	return s
}

// ErrorCounts counts failures by kind.
type ErrorCounts struct {
	BadFrame        uint64 // malformed headers, hellos, packets
	FrameTooLarge   uint64 // frames over MaxFrameSize (sent or received)
	Unauthenticated uint64 // frames or hellos that failed authentication
	UnknownType     uint64 // messages for a type without handler
	Overloaded      uint64 // requests rejected because the pool was full
	ConnClosed      uint64 // connections lost with calls possibly in flight
	Dial            uint64 // failed dials and handshakes
	Timeout         uint64 // calls ended by their context
	Stalled         uint64 // peers that sent part of a frame and stalled
	Remote          uint64 // calls answered with a remote error
}

// Total sums all counts.
func (e ErrorCounts) Total() uint64 {
	return e.BadFrame + e.FrameTooLarge + e.Unauthenticated + e.UnknownType + e.Overloaded +
		e.ConnClosed + e.Dial + e.Timeout + e.Stalled + e.Remote
}

// PeerStats is a snapshot of the counters for one peer address.
type PeerStats struct {
	Addr          string
	MsgsIn        uint64 // frames received from the peer
	MsgsOut       uint64 // frames queued to the peer
	BytesIn       uint64 // payload bytes received
	BytesOut      uint64 // payload bytes queued
	Writes        uint64 // socket writes (fewer than MsgsOut when frames were coalesced)
	Reconnects    uint64 // successful dials after the first for a slot
	LateResponses uint64 // responses that arrived after their call ended
	InFlight      int64  // calls waiting for a response now
	Conns         int    // open connections to or from this peer
	Errors        ErrorCounts
	Latency       Histogram // call round-trip latency
}

// Stats is a snapshot of a transport's counters.
type Stats struct {
	Peers []PeerStats
	// Unidentified counts errors on connections and packets that failed
	// before the peer's address was known (bad or unauthenticated hellos).
	Unidentified ErrorCounts
}

// Peer returns the stats for addr and whether it was found.
func (s Stats) Peer(addr string) (PeerStats, bool) {
	for _, p := range s.Peers {
		if p.Addr == addr {
			return p, true
		}
	}
	return PeerStats{}, false
}

type errorCounters struct {
	badFrame, tooLarge, unauth, unknownType, overloaded, connClosed, dial, timeout, stalled, remote atomic.Uint64
}

func (e *errorCounters) snapshot() ErrorCounts {
	return ErrorCounts{
		BadFrame: e.badFrame.Load(), FrameTooLarge: e.tooLarge.Load(), Unauthenticated: e.unauth.Load(),
		UnknownType: e.unknownType.Load(), Overloaded: e.overloaded.Load(), ConnClosed: e.connClosed.Load(),
		Dial: e.dial.Load(), Timeout: e.timeout.Load(), Stalled: e.stalled.Load(), Remote: e.remote.Load(),
	}
}

// PeerCounters holds live counters for one peer. Alternative Transport
// implementations (memnet) use it so their Stats match this package's.
type PeerCounters struct {
	msgsIn, msgsOut, bytesIn, bytesOut, reconnects, late, writes atomic.Uint64
	inFlight                                                     atomic.Int64
	conns                                                        atomic.Int64
	errs                                                         errorCounters
	latency                                                      histogram
}

// In records a received message of n payload bytes.
func (c *PeerCounters) In(n int) { c.msgsIn.Add(1); c.bytesIn.Add(uint64(n)) }

// Out records a sent message of n payload bytes.
func (c *PeerCounters) Out(n int) { c.msgsOut.Add(1); c.bytesOut.Add(uint64(n)) }

// Reconnect records a re-established connection.
func (c *PeerCounters) Reconnect() { c.reconnects.Add(1) }

// Late records a response that arrived after its call ended.
func (c *PeerCounters) Late() { c.late.Add(1) }

// CallStarted and CallDone track in-flight calls and their latency.
func (c *PeerCounters) CallStarted() { c.inFlight.Add(1) }

// CallDone ends a call started with CallStarted; d is its latency.
func (c *PeerCounters) CallDone(d time.Duration) { c.inFlight.Add(-1); c.latency.observe(d) }

// ConnOpened and ConnClosed track open connections.
func (c *PeerCounters) ConnOpened() { c.conns.Add(1) }

// ConnClosed records a closed connection.
func (c *PeerCounters) ConnClosed() { c.conns.Add(-1) }

// Error counts err under its kind (by errors.Is on the sentinels; context
// errors count as Timeout, remote errors as Remote).
func (c *PeerCounters) Error(err error) { countError(&c.errs, err) }

// Snapshot returns the counters as PeerStats for addr.
func (c *PeerCounters) Snapshot(addr string) PeerStats {
	return PeerStats{
		Addr: addr, MsgsIn: c.msgsIn.Load(), MsgsOut: c.msgsOut.Load(), BytesIn: c.bytesIn.Load(),
		BytesOut: c.bytesOut.Load(), Writes: c.writes.Load(), Reconnects: c.reconnects.Load(), LateResponses: c.late.Load(),
		InFlight: c.inFlight.Load(), Conns: int(c.conns.Load()), Errors: c.errs.snapshot(),
		Latency: c.latency.snapshot(),
	}
}
