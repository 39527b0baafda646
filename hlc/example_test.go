package hlc_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/gridkv/gridkv/hlc"
)

func Example() {
	wall := hlc.NewManualClock(1_700_000_000 * int64(time.Second))
	clock, err := hlc.NewClock(hlc.Config{WallClock: wall.Now, MaxOffset: 500 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	a := clock.Now()
	b := clock.Now() // same wall time: the logical counter orders it
	wall.Advance(-time.Second)
	c := clock.Now() // the wall clock stepped back: still increasing
	fmt.Println(a)
	fmt.Println(b)
	fmt.Println(c)
	fmt.Println(a.Less(b), b.Less(c))
	// Output:
	// 1700000000.000000000,0
	// 1700000000.000000000,1
	// 1700000000.000000000,2
	// true true
}

func ExampleClock_Update() {
	wall := hlc.NewManualClock(1_700_000_000 * int64(time.Second))
	clock, _ := hlc.NewClock(hlc.Config{WallClock: wall.Now, MaxOffset: 500 * time.Millisecond})

	// A message from a peer whose clock is 100ms ahead is accepted...
	remote := hlc.Timestamp{WallTime: wall.Now() + int64(100*time.Millisecond)}
	fmt.Println(clock.Update(remote), remote.Less(clock.Now()))

	// ...one from a peer 2s ahead is refused and leaves the clock alone.
	far := hlc.Timestamp{WallTime: wall.Now() + int64(2*time.Second)}
	err := clock.Update(far)
	fmt.Println(errors.Is(err, hlc.ErrClockOffset))
	// Output:
	// <nil> true
	// true
}

func ExampleTimestamp_MarshalBinary() {
	early := hlc.Timestamp{WallTime: 1_000, Logical: 7}
	late := hlc.Timestamp{WallTime: 2_000, Logical: 0}
	eb, _ := early.MarshalBinary()
	lb, _ := late.MarshalBinary()
	fmt.Printf("%x\n%x\n", eb, lb)

	var back hlc.Timestamp
	if err := back.UnmarshalBinary(lb); err != nil {
		panic(err)
	}
	fmt.Println(back == late)
	// Output:
	// 80000000000003e800000007
	// 80000000000007d000000000
	// true
}

func ExampleParse() {
	ts, err := hlc.Parse("1700000000.000065536,3")
	fmt.Println(ts.WallTime, ts.Logical, err)
	_, err = hlc.Parse("yesterday")
	fmt.Println(errors.Is(err, hlc.ErrInvalidTimestamp))
	// Output:
	// 1700000000000065536 3 <nil>
	// true
}

// A clock on the system time read through the monotonic clock: one clock
// read per Now instead of time.Now's two, re-synchronised with the wall
// clock every DefaultResync.
func ExampleSyncedUnixNano() {
	clock, err := hlc.NewClock(hlc.Config{WallClock: hlc.SyncedUnixNano(0), MaxOffset: 500 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	ts := clock.Now()
	drift := time.Since(ts.Time())
	fmt.Println(drift > -time.Second && drift < time.Second)
	// Output: true
}
