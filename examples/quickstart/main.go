// Command quickstart is the smallest useful GridKV program: three nodes in
// this process, on loopback sockets, forming one cluster; a value written
// through one node is read through another, expires after its TTL, and is
// deleted; then one node is stopped and the data is still readable through
// the others. It exits non-zero if any of that does not happen.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/gridkv/gridkv/gridkv"
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

	// 1. Start three nodes. The first starts the cluster; the others join it
	// through its address. In production each node is its own process with
	// a fixed BindAddr; here port 0 picks free ports.
	var nodes []*gridkv.Node
	defer func() {
		for _, n := range nodes {
			n.Close() // graceful leave
		}
	}()
	for i := range 3 {
		opts := gridkv.DefaultOptions() // N=3 replicas, W=R=2 (QUORUM)
		opts.NodeID = fmt.Sprintf("node-%d", i)
		opts.BindAddr = "127.0.0.1:0"
		opts.Gossip = gridkv.GossipLocal // fast membership on one host
		if i > 0 {
			opts.Seeds = []string{nodes[0].Addr()}
		}
		n, err := gridkv.New(opts)
		if err != nil {
			return err
		}
		nodes = append(nodes, n)
		if err := n.WaitReady(ctx); err != nil {
			return fmt.Errorf("%s did not join: %w", opts.NodeID, err)
		}
		fmt.Printf("started %s on %s\n", n.ID(), n.Addr())
	}
	// Joining is immediate, but news of each member spreads by gossip: wait
	// until every node places keys on all three before writing.
	for !allSeeAll(nodes) {
		select {
		case <-ctx.Done():
			return errors.New("the nodes did not learn about each other in time")
		case <-time.After(10 * time.Millisecond):
		}
	}
	fmt.Println("all three nodes see each other")

	// 2. Write through node-0, read through node-2.
	if err := nodes[0].Set(ctx, "greeting", []byte("hello")); err != nil {
		return err
	}
	v, err := nodes[2].Get(ctx, "greeting")
	if err != nil || string(v) != "hello" {
		return fmt.Errorf("read back %q, %v; want \"hello\"", v, err)
	}
	fmt.Printf("set greeting=hello on node-0, node-2 reads %q\n", v)

	// 3. A value with a TTL disappears on its own.
	const ttl = 1500 * time.Millisecond
	written := time.Now()
	if err := nodes[1].Set(ctx, "session:42", []byte("token"), gridkv.WithTTL(ttl)); err != nil {
		return err
	}
	if v, err := nodes[0].Get(ctx, "session:42"); err != nil || string(v) != "token" {
		if time.Since(written) < ttl { // only a failure if the TTL has not run out yet
			return fmt.Errorf("TTL value read back as %q, %v", v, err)
		}
	}
	fmt.Printf("set session:42 with TTL %v; readable right away\n", ttl)
	for {
		_, err := nodes[2].Get(ctx, "session:42")
		if errors.Is(err, gridkv.ErrNotFound) {
			break
		}
		if err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.New("session:42 never expired")
		case <-time.After(50 * time.Millisecond):
		}
	}
	gone := time.Since(written)
	if gone < ttl {
		return fmt.Errorf("session:42 vanished after %v, before its TTL of %v", gone, ttl)
	}
	fmt.Printf("session:42 is gone %v after it was written (TTL %v): Get returns gridkv.ErrNotFound\n", gone.Round(10*time.Millisecond), ttl)

	// 4. Delete.
	if err := nodes[1].Delete(ctx, "greeting"); err != nil {
		return err
	}
	if _, err := nodes[0].Get(ctx, "greeting"); !errors.Is(err, gridkv.ErrNotFound) {
		return fmt.Errorf("after Delete, Get = %v; want ErrNotFound", err)
	}
	fmt.Println("deleted greeting on node-1; node-0 reads gridkv.ErrNotFound")

	// 5. Stop a node: with three replicas and W=R=2, two nodes still answer.
	if err := nodes[0].Set(ctx, "city", []byte("Lisbon")); err != nil {
		return err
	}
	if err := nodes[2].Close(); err != nil {
		return err
	}
	fmt.Println("stopped node-2")
	city, err := nodes[0].Get(ctx, "city")
	if err != nil || string(city) != "Lisbon" {
		return fmt.Errorf("with node-2 stopped, Get(city) = %q, %v", city, err)
	}
	if err := nodes[1].Set(ctx, "city", []byte("Porto")); err != nil {
		return fmt.Errorf("with node-2 stopped, Set = %v", err)
	}
	fmt.Println("node-0 still reads city=\"Lisbon\" and node-1 still writes: two of three replicas are enough")
	fmt.Println("OK: quickstart")
	return nil
}

// allSeeAll reports whether every node's ring holds every node.
func allSeeAll(nodes []*gridkv.Node) bool {
	for _, n := range nodes {
		if n.Ring().Len() != len(nodes) {
			return false
		}
	}
	return true
}
