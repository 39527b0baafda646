// Command dev_testing shows how an application that stores data in GridKV
// tests itself: against a single in-memory node whose clock the test
// advances by hand (TTL expiry without waiting), and against a three-node
// cluster on the in-memory network that the test partitions (the
// application's error handling when the store loses its quorum). No
// sockets, no sleeps. The same scenarios are written as Go tests in
// app_test.go (go test ./examples/dev_testing). It exits non-zero if any
// expectation fails.
package main

import (
	"context"
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
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := singleNode(ctx); err != nil {
		return fmt.Errorf("single node: %w", err)
	}
	if err := partitioned(ctx); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	fmt.Println("OK: dev_testing")
	return nil
}

// singleNode: a session expires exactly when the manual clock passes its
// TTL; the test never waits.
func singleNode(ctx context.Context) error {
	clock := hlc.NewManualClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	node, err := newSingleNode(clock)
	if err != nil {
		return err
	}
	defer node.Close()
	s := NewSessions(node, 30*time.Minute)

	start := time.Now()
	token, err := s.Login(ctx, "ada")
	if err != nil {
		return err
	}
	clock.Advance(29 * time.Minute)
	if u, err := s.User(ctx, token); err != nil || u != "ada" {
		return fmt.Errorf("after 29 simulated minutes: %q, %v; want ada", u, err)
	}
	clock.Advance(2 * time.Minute)
	if _, err := s.User(ctx, token); !errors.Is(err, ErrNoSession) {
		return fmt.Errorf("after 31 simulated minutes: %v; want ErrNoSession", err)
	}
	fmt.Printf("single in-memory node, manual clock: a 30-minute session is valid at 29 min and gone at 31 min (%v of real time)\n",
		time.Since(start).Round(time.Millisecond))

	other, err := s.Login(ctx, "grace")
	if err != nil {
		return err
	}
	if err := s.Logout(ctx, other); err != nil {
		return err
	}
	if _, err := s.User(ctx, other); !errors.Is(err, ErrNoSession) {
		return fmt.Errorf("after Logout: %v; want ErrNoSession", err)
	}
	fmt.Println("logout: the session is gone (ErrNoSession)")
	return nil
}

// partitioned: cut one node off; the application on that side reports
// ErrUnavailable; after healing it works again.
func partitioned(ctx context.Context) error {
	c, err := newTestCluster(ctx)
	if err != nil {
		return err
	}
	defer c.close()
	majority, minority := NewSessions(c.nodes[0], time.Hour), NewSessions(c.nodes[2], time.Hour)
	token, err := majority.Login(ctx, "ada")
	if err != nil {
		return err
	}
	if u, err := minority.User(ctx, token); err != nil || u != "ada" {
		return fmt.Errorf("read through another node: %q, %v", u, err)
	}
	fmt.Println("3 nodes on an in-memory network: a login through node0 is visible through node2")

	c.net.Partition([]string{clusterAddr(0), clusterAddr(1)}, []string{clusterAddr(2)})
	if err := c.waitAlive(ctx, c.nodes[2:], 1); err != nil { // node2 alone
		return err
	}
	_, err = minority.Login(ctx, "grace")
	if !errors.Is(err, ErrUnavailable) {
		return fmt.Errorf("login on the cut-off node: %v; want ErrUnavailable", err)
	}
	fmt.Printf("partition {node0,node1} | {node2}: login through node2 fails with ErrUnavailable (%v)\n", err)
	if _, err := majority.Login(ctx, "grace"); err != nil {
		return fmt.Errorf("login on the majority side: %w", err)
	}
	fmt.Println("  the majority side keeps working")

	c.net.Heal()
	if err := c.waitAlive(ctx, c.nodes, 3); err != nil {
		return err
	}
	if _, err := minority.Login(ctx, "grace"); err != nil {
		return fmt.Errorf("login after heal: %w", err)
	}
	fmt.Println("healed: login through node2 works again")
	return nil
}
