package gridkv

import (
	"fmt"
	"time"
)

// Consistency chooses how many replicas must answer an operation.
type Consistency uint8

const (
	// Default uses the node's Options.Consistency.
	Default Consistency = iota
	// One needs one replica: the fastest, and a read of a key the local
	// node replicates does not touch the network.
	One
	// Quorum needs the configured quorums (Options.WriteQuorum and
	// Options.ReadQuorum, N/2+1 by default). With W+R > N a read sees every
	// write acknowledged before it started.
	Quorum
	// All needs every replica in the preference list.
	All
	// Linearizable makes reads and writes of a key linearizable (ABD,
	// multi-writer): a write first reads the highest version from a majority
	// of the key's replicas, then writes a greater one to a majority; a read
	// collects versions from a majority and writes the newest back to a
	// majority before returning. It costs one extra round trip per call and
	// uses only the key's own replicas (no stand-ins). See the package
	// documentation for its conditions.
	Linearizable
)

// String returns the level's name.
func (c Consistency) String() string {
	switch c {
	case Default:
		return "DEFAULT"
	case One:
		return "ONE"
	case Quorum:
		return "QUORUM"
	case All:
		return "ALL"
	case Linearizable:
		return "LINEARIZABLE"
	}
	return fmt.Sprintf("Consistency(%d)", uint8(c))
}

// ParseConsistency parses "ONE", "QUORUM", "ALL" or "LINEARIZABLE".
func ParseConsistency(s string) (Consistency, error) {
	switch s {
	case "ONE", "one", "One":
		return One, nil
	case "QUORUM", "quorum", "Quorum":
		return Quorum, nil
	case "ALL", "all", "All":
		return All, nil
	case "LINEARIZABLE", "linearizable", "Linearizable":
		return Linearizable, nil
	}
	return Default, fmt.Errorf("%w: unknown consistency level %q", ErrInvalidOptions, s)
}

// CallOption adjusts one Set, Get or Delete. Options are small values:
// passing them allocates nothing.
type CallOption struct {
	kind optKind
	d    time.Duration
	c    Consistency
	n    int
}

type optKind uint8

const (
	optNone optKind = iota
	optTTL
	optConsistency
	optW
	optR
)

type callOptions struct {
	ttl         time.Duration
	consistency Consistency
	w, r        int
}

// WithTTL makes a Set's value expire after d (d > 0).
func WithTTL(d time.Duration) CallOption { return CallOption{kind: optTTL, d: d} }

// WithConsistency sets the consistency level of one call.
func WithConsistency(c Consistency) CallOption { return CallOption{kind: optConsistency, c: c} }

// WithW sets an explicit write quorum for one Set or Delete (1 ≤ w ≤ N).
func WithW(w int) CallOption { return CallOption{kind: optW, n: w} }

// WithR sets an explicit read quorum for one Get (1 ≤ r ≤ N).
func WithR(r int) CallOption { return CallOption{kind: optR, n: r} }

// quorums resolves the acknowledgements needed for a write (w) and a read
// (r) under the call's options.
func (n *Node) quorums(opts []CallOption) (callOptions, int, int, error) {
	var o callOptions
	for _, f := range opts {
		switch f.kind {
		case optTTL:
			o.ttl = f.d
		case optConsistency:
			o.consistency = f.c
		case optW:
			if f.n < 1 {
				return o, 0, 0, fmt.Errorf("%w: W=%d", ErrInvalidOptions, f.n)
			}
			o.w = f.n
		case optR:
			if f.n < 1 {
				return o, 0, 0, fmt.Errorf("%w: R=%d", ErrInvalidOptions, f.n)
			}
			o.r = f.n
		}
	}
	N := n.opts.ReplicationFactor
	c := o.consistency
	if c == Default {
		c = n.opts.Consistency
	}
	var w, r int
	switch c {
	case One:
		w, r = 1, 1
	case Quorum:
		w, r = n.opts.WriteQuorum, n.opts.ReadQuorum
	case All:
		w, r = N, N
	case Linearizable:
		w, r = N/2+1, N/2+1
		if o.w != 0 || o.r != 0 {
			return o, 0, 0, fmt.Errorf("%w: LINEARIZABLE uses majorities; explicit W/R are not allowed", ErrInvalidOptions)
		}
	default:
		return o, 0, 0, fmt.Errorf("%w: unknown consistency level %d", ErrInvalidOptions, c)
	}
	if o.w != 0 {
		if o.w < 1 || o.w > N {
			return o, 0, 0, fmt.Errorf("%w: W=%d outside 1..N=%d", ErrInvalidOptions, o.w, N)
		}
		w = o.w
	}
	if o.r != 0 {
		if o.r < 1 || o.r > N {
			return o, 0, 0, fmt.Errorf("%w: R=%d outside 1..N=%d", ErrInvalidOptions, o.r, N)
		}
		r = o.r
	}
	if o.ttl < 0 {
		return o, 0, 0, fmt.Errorf("%w: negative TTL %v", ErrInvalidOptions, o.ttl)
	}
	o.consistency = c
	return o, w, r, nil
}
