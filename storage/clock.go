package storage

import (
	"sync/atomic"
	"time"
)

// Clock tells the engine the current time, in nanoseconds since the Unix
// epoch. It decides whether an entry is expired and when a tombstone's purge
// grace period ends. It must be safe for concurrent use.
type Clock interface {
	Now() int64
}

// SystemClock returns a Clock that reads the wall time once, when it is
// created, and then advances it with the monotonic clock: one vDSO call per
// Now instead of time.Now's two, which matters because every read of an
// entry with an expiry asks for the time.
//
// HAZARD: it does not follow steps of the wall clock made after it was
// created (an NTP step, a manual change), and it drifts from the wall clock
// by whatever slewing NTP applies; both shift expiry by that amount.
func SystemClock() Clock { return &systemClock{base: time.Now()} }

type systemClock struct{ base time.Time }

func (c *systemClock) Now() int64 { return c.base.UnixNano() + int64(time.Since(c.base)) }

// ManualClock is a Clock that moves only when told to, for tests that need
// expiry and purging to happen at exact, reproducible moments. It is safe for
// concurrent use.
type ManualClock struct {
	ns atomic.Int64
}

// NewManualClock returns a ManualClock reading ns nanoseconds since the
// epoch.
func NewManualClock(ns int64) *ManualClock {
	m := &ManualClock{}
	m.ns.Store(ns)
	return m
}

// Now returns the manual time in nanoseconds since the epoch.
func (m *ManualClock) Now() int64 { return m.ns.Load() }

// Set sets the manual time; it may move backwards.
func (m *ManualClock) Set(ns int64) { m.ns.Store(ns) }

// Advance moves the manual time by d, which may be negative.
func (m *ManualClock) Advance(d time.Duration) { m.ns.Add(int64(d)) }
