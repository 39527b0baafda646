// Command hlc_only shows the hlc module used on its own: two simulated nodes
// exchange timestamps, one of them with a wall clock that steps backwards,
// and causality still holds. It exits non-zero if it does not.
package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/gridkv/gridkv/hlc"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
}

func run() error {
	start := time.Now().UnixNano()
	wallA, wallB := hlc.NewManualClock(start), hlc.NewManualClock(start-int64(200*time.Millisecond))
	a, err := hlc.NewClock(hlc.Config{WallClock: wallA.Now, MaxOffset: 500 * time.Millisecond})
	if err != nil {
		return err
	}
	b, err := hlc.NewClock(hlc.Config{WallClock: wallB.Now, MaxOffset: 500 * time.Millisecond})
	if err != nil {
		return err
	}

	sent := a.Now()
	fmt.Printf("node A sends a message stamped     %s\n", sent)
	fmt.Printf("node B's wall clock is 200ms behind %s\n", hlc.Timestamp{WallTime: wallB.Now()})
	if err := b.Update(sent); err != nil {
		return err
	}
	reply := b.Now()
	fmt.Printf("node B replies at                  %s\n", reply)
	if !sent.Less(reply) {
		return fmt.Errorf("reply %s is not after the message %s", reply, sent)
	}
	fmt.Println("-> B's reply is ordered after A's message despite B's slow clock")

	wallA.Advance(-time.Second)
	after := a.Now()
	fmt.Printf("A's wall clock steps back 1s; A now issues %s\n", after)
	if !sent.Less(after) {
		return fmt.Errorf("clock went backwards: %s after %s", after, sent)
	}
	fmt.Println("-> A's timestamps keep increasing")

	bogus := hlc.Timestamp{WallTime: wallB.Now() + int64(time.Hour)}
	if err := b.Update(bogus); !errors.Is(err, hlc.ErrClockOffset) {
		return fmt.Errorf("a timestamp an hour ahead was accepted (err=%v)", err)
	}
	fmt.Println("-> B refuses a timestamp from a peer whose clock is an hour ahead:", hlc.ErrClockOffset)
	return nil
}
