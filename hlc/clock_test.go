package hlc

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

const base = int64(1_700_000_000) * int64(time.Second) // a multiple of Tick

func newTestClock(t *testing.T, wall int64) (*Clock, *ManualClock) {
	t.Helper()
	m := NewManualClock(wall)
	c, err := NewClock(Config{WallClock: m.Now, MaxOffset: 250 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c, m
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig invalid: %v", err)
	}
	for _, off := range []time.Duration{0, -time.Second} {
		cfg := Config{MaxOffset: off}
		if err := cfg.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("MaxOffset %v: Validate = %v", off, err)
		}
		if _, err := NewClock(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("MaxOffset %v: NewClock = %v", off, err)
		}
	}
	c, err := NewClock(Config{MaxOffset: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if now, wall := c.Now().WallTime, time.Now().UnixNano(); wall-now > int64(time.Minute) || now-wall > int64(time.Minute) {
		t.Fatalf("nil WallClock should read real time: %d vs %d", now, wall)
	}
}

// TestNowCases walks the algorithm's cases one step at a time: each step moves
// the manual wall clock, then calls Now.
func TestNowCases(t *testing.T) {
	tick := int64(Tick)
	c, m := newTestClock(t, base)
	steps := []struct {
		name string
		wall int64
		want Timestamp
	}{
		{"first reading takes the wall time", base, Timestamp{base, 0}},
		{"same wall time increments logical", base, Timestamp{base, 1}},
		{"sub-tick advance stays in the tick", base + tick/2, Timestamp{base, 2}},
		{"wall moves a tick: logical resets", base + tick, Timestamp{base + tick, 0}},
		{"wall jumps ahead", base + 100*tick + 5, Timestamp{base + 100*tick, 0}},
		{"wall steps back: logical increments", base, Timestamp{base + 100*tick, 1}},
		{"still behind", base + 99*tick, Timestamp{base + 100*tick, 2}},
		{"wall catches up", base + 101*tick, Timestamp{base + 101*tick, 0}},
		{"wall before the epoch", -5, Timestamp{base + 101*tick, 1}},
	}
	for _, s := range steps {
		m.Set(s.wall)
		if got := c.Now(); got != s.want {
			t.Fatalf("%s: Now() = %v, want %v", s.name, got, s.want)
		}
		if got := c.Last(); got != s.want {
			t.Fatalf("%s: Last() = %v, want %v", s.name, got, s.want)
		}
	}
}

func TestUpdateCases(t *testing.T) {
	tick := int64(Tick)
	maxOff := int64(250 * time.Millisecond)
	far := int64(1) << 30 // a multiple of Tick, well beyond maxOff
	tests := []struct {
		name     string
		before   Timestamp // clock state established by Now at wall = before.WallTime
		wall     int64     // wall clock during Update
		remote   Timestamp
		wantErr  bool
		wantLast Timestamp
	}{
		{"remote behind: no change", Timestamp{base, 0}, base, Timestamp{base - tick, 9}, false, Timestamp{base, 0}},
		{"remote equal: no change", Timestamp{base, 0}, base, Timestamp{base, 0}, false, Timestamp{base, 0}},
		{"remote same wall, higher logical", Timestamp{base, 0}, base, Timestamp{base, 7}, false, Timestamp{base, 7}},
		{"remote ahead within offset", Timestamp{base, 0}, base, Timestamp{base + 10*tick, 3}, false, Timestamp{base + 10*tick, 3}},
		{"remote unaligned wall rounds up", Timestamp{base, 0}, base, Timestamp{base + 5, 0}, false, Timestamp{base + tick, 0}},
		{"remote logical overflow rounds up", Timestamp{base, 0}, base, Timestamp{base + tick, 1 << 20}, false, Timestamp{base + 2*tick, 0}},
		{"remote exactly at max offset", Timestamp{base, 0}, base, Timestamp{base + maxOff, 0}, false, unpack(packCeil(Timestamp{base + maxOff, 0}))},
		{"remote beyond max offset", Timestamp{base, 0}, base, Timestamp{base + maxOff + 1, 0}, true, Timestamp{base, 0}},
		{"offset measured from the wall, not the clock", Timestamp{base + far, 0}, base, Timestamp{base + far + tick, 0}, true, Timestamp{base + far, 0}},
		{"remote before the epoch", Timestamp{base, 0}, base, Timestamp{-100, 5}, false, Timestamp{base, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, m := newTestClock(t, tt.before.WallTime)
			if got := c.Now(); got != tt.before {
				t.Fatalf("setup: Now() = %v, want %v", got, tt.before)
			}
			m.Set(tt.wall)
			err := c.Update(tt.remote)
			if tt.wantErr {
				var oe *OffsetError
				if !errors.Is(err, ErrClockOffset) || !errors.As(err, &oe) || oe.Remote != tt.remote || oe.LocalWall != tt.wall {
					t.Fatalf("Update(%v) error = %v, want *OffsetError", tt.remote, err)
				}
				if oe.Error() == "" {
					t.Fatal("empty error text")
				}
			} else if err != nil {
				t.Fatalf("Update(%v) = %v", tt.remote, err)
			}
			if got := c.Last(); got != tt.wantLast {
				t.Fatalf("Last() after Update = %v, want %v", got, tt.wantLast)
			}
			if next := c.Now(); !tt.wantErr && !tt.remote.Less(next) {
				t.Fatalf("Now() = %v after Update(%v): not greater", next, tt.remote)
			}
		})
	}
}

// TestLogicalOverflowCarries pins the defined overflow behaviour: when the
// logical counter fills a tick, the next timestamp moves to the next tick
// instead of wrapping.
func TestLogicalOverflowCarries(t *testing.T) {
	c, _ := newTestClock(t, base)
	if err := c.Update(Timestamp{WallTime: base, Logical: 1<<LogicalBits - 1}); err != nil {
		t.Fatal(err)
	}
	got := c.Now()
	want := Timestamp{WallTime: base + int64(Tick), Logical: 0}
	if got != want {
		t.Fatalf("Now() after a full tick = %v, want %v", got, want)
	}
	if next := c.Now(); next != (Timestamp{WallTime: base + int64(Tick), Logical: 1}) {
		t.Fatalf("Now() after carry = %v", next)
	}
}

// TestPropertyConcurrent interleaves Now, Update and wall-clock jumps in both
// directions from several goroutines. Every goroutine checks that its own Now
// results strictly increase and that a Now after a successful Update exceeds
// the remote timestamp; at the end, all Now results must be distinct (each Now
// is greater than every earlier one, so no two can be equal).
func TestPropertyConcurrent(t *testing.T) {
	const workers, ops = 4, 5000
	c, m := newTestClock(t, base)
	maxOff := int64(c.MaxOffset())
	results := make([][]Timestamp, workers)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 99))
			var last Timestamp
			out := make([]Timestamp, 0, ops)
			for range ops {
				switch r.IntN(10) {
				case 0: // wall clock jumps, either way
					m.Advance(time.Duration(r.Int64N(2*maxOff) - maxOff))
				case 1, 2: // a remote timestamp near the wall clock, sometimes beyond the max offset
					remote := Timestamp{WallTime: m.Now() + r.Int64N(2*maxOff) - maxOff/2, Logical: uint32(r.IntN(1 << 18))}
					if err := c.Update(remote); err != nil {
						if !errors.Is(err, ErrClockOffset) {
							errs <- err
							return
						}
						continue
					}
					if now := c.Now(); !remote.Less(now) {
						errs <- fmt.Errorf("Now() = %v after Update(%v)", now, remote)
						return
					} else {
						last = now
						out = append(out, now)
					}
				default:
					now := c.Now()
					if !last.Less(now) {
						errs <- fmt.Errorf("Now() = %v not after %v", now, last)
						return
					}
					last = now
					out = append(out, now)
				}
			}
			results[w] = out
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := make(map[Timestamp]bool)
	total := 0
	for _, rs := range results {
		for _, ts := range rs {
			if seen[ts] {
				t.Fatalf("timestamp %v returned twice", ts)
			}
			seen[ts] = true
			total++
		}
	}
	if total < workers*ops/2 {
		t.Fatalf("only %d timestamps checked", total)
	}
}

// TestSyncedUnixNano checks that the synced clock reads the wall clock's
// time (within the scheduling noise of two separate reads), both between
// re-reads and when every call re-reads.
func TestSyncedUnixNano(t *testing.T) {
	for _, resync := range []time.Duration{0, time.Hour, time.Nanosecond} {
		wall := SyncedUnixNano(resync)
		for range 1000 {
			before := time.Now().UnixNano()
			got := wall()
			after := time.Now().UnixNano()
			// A monotonic reading between two wall readings; allow 1ms for
			// slew differences and a preempted goroutine.
			if got < before-int64(time.Millisecond) || got > after+int64(time.Millisecond) {
				t.Fatalf("resync %v: SyncedUnixNano = %d, wall clock read %d..%d", resync, got, before, after)
			}
		}
	}
}
