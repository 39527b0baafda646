package gridkv

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Operation names used as keys of Metrics.Ops.
const (
	OpSet    = "set"
	OpGet    = "get"
	OpDelete = "delete"
)

// opIndex identifies an operation in the metrics table.
type opIndex uint8

const (
	opSet opIndex = iota
	opGet
	opDelete
	numOps
)

var opNames = [numOps]string{OpSet, OpGet, OpDelete}

// histBuckets is the number of latency buckets: bucket i counts latencies in
// [2^(i-1), 2^i) microseconds (bucket 0: below 1µs); the last bucket is
// open-ended (≥ ~34 s).
const histBuckets = 26

// histogram is a lock-free latency histogram with power-of-two buckets.
type histogram struct {
	counts [histBuckets]atomic.Uint64
	sum    atomic.Int64 // nanoseconds
}

func (h *histogram) observe(d time.Duration) {
	us := uint64(d / time.Microsecond)
	i := bits.Len64(us)
	if i >= histBuckets {
		i = histBuckets - 1
	}
	h.counts[i].Add(1)
	h.sum.Add(int64(d))
}

// Histogram is a snapshot of a latency distribution.
type Histogram struct {
	// Bounds[i] is the exclusive upper bound of bucket i; the last bound is
	// +Inf (math.MaxInt64).
	Bounds []time.Duration
	// Counts[i] is the number of observations in bucket i.
	Counts []uint64
	// Count and Sum summarise all observations.
	Count uint64
	Sum   time.Duration
}

func (h *histogram) snapshot() Histogram {
	s := Histogram{Bounds: make([]time.Duration, histBuckets), Counts: make([]uint64, histBuckets)}
	for i := range histBuckets {
		s.Counts[i] = h.counts[i].Load()
		s.Count += s.Counts[i]
		if i == histBuckets-1 {
			s.Bounds[i] = math.MaxInt64
		} else {
			s.Bounds[i] = time.Duration(uint64(1)<<i) * time.Microsecond
		}
	}
	s.Sum = time.Duration(h.sum.Load())
	return s
}

// Quantile returns an upper bound for the q-quantile (0 < q ≤ 1): the upper
// bound of the bucket holding it. It returns 0 for an empty histogram.
func (h Histogram) Quantile(q float64) time.Duration {
	if h.Count == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.Count)))
	var seen uint64
	for i, c := range h.Counts {
		seen += c
		if seen >= rank {
			return h.Bounds[i]
		}
	}
	return h.Bounds[len(h.Bounds)-1]
}

type opMetrics struct {
	count, errors atomic.Uint64
	latency       histogram
}

type metrics struct {
	ops                     [numOps]opMetrics
	quorumFailures          atomic.Uint64
	readRepairs             atomic.Uint64
	readHedges              atomic.Uint64
	localReads              atomic.Uint64
	localWrites             atomic.Uint64 // picks the local writes that are timed; not exported
	hintsStored             atomic.Uint64
	hintsDelivered          atomic.Uint64
	hintsDropped            atomic.Uint64
	antiEntropyRounds       atomic.Uint64
	antiEntropyKeysRepaired atomic.Uint64
	rebalanceRangesPending  atomic.Int64
	rebalanceRangesDone     atomic.Uint64
	rebalanceKeysSent       atomic.Uint64
	clockRejections         atomic.Uint64
	overloads               atomic.Uint64
}

func newMetrics() *metrics {
	return &metrics{}
}

// OpMetrics describes one kind of operation coordinated by this node.
type OpMetrics struct {
	Count  uint64 // calls
	Errors uint64 // calls that returned an error other than ErrNotFound
	// Latency of the calls timed: every call that involves other nodes,
	// and 1 in 8 of those this node serves alone (R=1 reads of a key it
	// replicates, writes when the key has a single replica), where two
	// clock reads would be a measurable share of the call.
	Latency Histogram
}

// Metrics is a snapshot of a node's counters. Counters only grow, except the
// gauges noted.
type Metrics struct {
	Ops                     map[string]OpMetrics // by OpSet, OpGet, OpDelete
	QuorumFailures          uint64               // calls that returned a *QuorumError
	ReadRepairs             uint64               // stale replicas written by read repair
	ReadHedges              uint64               // reads that asked more replicas after Options.ReadHedge
	LocalReads              uint64               // reads served without the network
	HintsStored             uint64               // writes kept for a replica that was down
	HintsDelivered          uint64               // hints handed to their replica
	HintsDropped            uint64               // hints dropped (full store or window passed)
	HintsPending            int                  // gauge: hints held now
	AntiEntropyRounds       uint64               // completed comparisons with a peer
	AntiEntropyKeysRepaired uint64               // entries sent or fetched by anti-entropy
	RebalanceRangesPending  int64                // gauge: range moves waiting or running
	RebalanceRangesDone     uint64               // range moves completed
	RebalanceKeysSent       uint64               // entries streamed to new owners
	ClockRejections         uint64               // messages refused for clock offset
	Overloads               uint64               // calls refused by MaxInFlight
	Members                 int                  // gauge: members in the ring
	BytesIn, BytesOut       uint64               // transport payload bytes, all peers
	StorageBytes            int64                // gauge: bytes accounted by the local store
	StorageEntries          int                  // gauge: entries in the local store
}
