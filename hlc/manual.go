package hlc

import (
	"sync/atomic"
	"time"
)

// ManualClock is a settable wall clock for tests. Pass its Now method as
// Config.WallClock. It is safe for concurrent use.
type ManualClock struct {
	ns atomic.Int64
}

// NewManualClock returns a ManualClock reading ns nanoseconds since the epoch.
func NewManualClock(ns int64) *ManualClock {
	m := &ManualClock{}
	m.ns.Store(ns)
	return m
}

// Now returns the current manual time in nanoseconds since the epoch.
func (m *ManualClock) Now() int64 { return m.ns.Load() }

// Set sets the manual time; it may move backwards.
func (m *ManualClock) Set(ns int64) { m.ns.Store(ns) }

// Advance moves the manual time by d, which may be negative.
func (m *ManualClock) Advance(d time.Duration) { m.ns.Add(int64(d)) }
