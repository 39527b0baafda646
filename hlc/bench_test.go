package hlc

import (
	"sync"
	"testing"
	"time"
)

// mutexClock is the reference a straightforward implementation would write:
// the HLC algorithm under a mutex, with separate wall and logical fields.
type mutexClock struct {
	mu      sync.Mutex
	wall    func() int64
	last    Timestamp
	maxSkew int64
}

func (c *mutexClock) Now() Timestamp {
	pt := c.wall()
	c.mu.Lock()
	if pt > c.last.WallTime {
		c.last = Timestamp{WallTime: pt}
	} else {
		c.last.Logical++
	}
	ts := c.last
	c.mu.Unlock()
	return ts
}

func (c *mutexClock) Update(r Timestamp) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.last.Less(r) {
		return true
	}
	if r.WallTime-c.wall() > c.maxSkew {
		return false
	}
	c.last = r
	return true
}

var sink Timestamp

func BenchmarkNow(b *testing.B) {
	b.Run("hlc", func(b *testing.B) {
		c, _ := NewClock(DefaultConfig())
		b.ReportAllocs()
		for b.Loop() {
			sink = c.Now()
		}
	})
	b.Run("wallclock", func(b *testing.B) {
		b.ReportAllocs()
		var ns int64
		for b.Loop() {
			ns = UnixNano()
		}
		sink.WallTime = ns
	})
	b.Run("mutex", func(b *testing.B) {
		c := &mutexClock{wall: UnixNano}
		b.ReportAllocs()
		for b.Loop() {
			sink = c.Now()
		}
	})
}

func BenchmarkNowParallel(b *testing.B) {
	b.Run("hlc", func(b *testing.B) {
		c, _ := NewClock(DefaultConfig())
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var ts Timestamp
			for pb.Next() {
				ts = c.Now()
			}
			_ = ts
		})
	})
	b.Run("wallclock", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var ns int64
			for pb.Next() {
				ns = UnixNano()
			}
			_ = ns
		})
	})
	b.Run("mutex", func(b *testing.B) {
		c := &mutexClock{wall: UnixNano}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var ts Timestamp
			for pb.Next() {
				ts = c.Now()
			}
			_ = ts
		})
	})
}

func BenchmarkUpdate(b *testing.B) {
	// "behind": the common case of a message whose timestamp the clock has
	// already passed (read-only fast path). "ahead": every call moves the
	// clock forward (the write path).
	b.Run("behind", func(b *testing.B) {
		c, _ := NewClock(DefaultConfig())
		remote := c.Now()
		c.Now()
		b.ReportAllocs()
		for b.Loop() {
			if err := c.Update(remote); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ahead", func(b *testing.B) {
		m := NewManualClock(time.Now().UnixNano())
		c, _ := NewClock(Config{WallClock: m.Now, MaxOffset: time.Hour})
		remote := Timestamp{WallTime: m.Now()}
		b.ReportAllocs()
		for b.Loop() {
			remote.Logical++
			if err := c.Update(remote); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("mutex-behind", func(b *testing.B) {
		c := &mutexClock{wall: UnixNano, maxSkew: int64(DefaultMaxOffset)}
		remote := c.Now()
		c.Now()
		b.ReportAllocs()
		for b.Loop() {
			c.Update(remote)
		}
	})
}

// BenchmarkWallClock compares the default wall clock (time.Now, two clock
// reads) with SyncedUnixNano (one monotonic read).
func BenchmarkWallClock(b *testing.B) {
	for _, c := range []struct {
		name string
		wall WallClock
	}{{"UnixNano", UnixNano}, {"SyncedUnixNano", SyncedUnixNano(0)}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var sum int64
			for b.Loop() {
				sum += c.wall()
			}
			if sum == 0 {
				b.Fatal("no readings")
			}
		})
	}
}
