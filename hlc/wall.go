package hlc

import (
	"sync/atomic"
	"time"
)

// DefaultResync is the interval at which a SyncedUnixNano clock re-reads the
// wall clock when given a resync of zero or less.
const DefaultResync = 100 * time.Millisecond

// SyncedUnixNano returns a WallClock that reads Unix nanoseconds through the
// monotonic clock alone, one clock read where time.Now makes two (wall and
// monotonic), and re-reads the wall clock once per resync (DefaultResync
// when resync <= 0).
//
// Between re-reads it moves with the monotonic clock, which NTP slews as it
// does the wall clock; a step of the wall clock (an NTP step, a manual
// change) shows up at the next re-read, so readings may lag or lead the
// system clock by the size of a step for up to resync. After a re-read a
// reading may also be a fraction of a microsecond below the previous one.
// A Clock built on it stays monotonic in both cases: Now never goes back.
// It is safe for concurrent use.
func SyncedUnixNano(resync time.Duration) WallClock {
	if resync <= 0 {
		resync = DefaultResync
	}
	s := &syncedWall{base: time.Now(), every: int64(resync)}
	s.resync()
	return s.now
}

type syncedWall struct {
	base   time.Time    // monotonic anchor
	every  int64        // resync interval, ns
	offset atomic.Int64 // wall - monotonic at the last re-read
	next   atomic.Int64 // monotonic reading due for the next re-read
}

func (s *syncedWall) now() int64 {
	mono := int64(time.Since(s.base))
	if mono >= s.next.Load() {
		return s.resync()
	}
	return mono + s.offset.Load()
}

// resync reads the wall clock and returns it. Concurrent re-reads are
// harmless: each stores an offset that was true when it was read.
func (s *syncedWall) resync() int64 {
	t := time.Now()
	mono := int64(t.Sub(s.base)) // monotonic: both carry a monotonic reading
	wall := t.UnixNano()
	s.offset.Store(wall - mono)
	s.next.Store(mono + s.every)
	return wall
}
