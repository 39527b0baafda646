package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gridkv/gridkv/hlc"
)

// TestMain fails the package if a test leaves a goroutine behind (a node
// not closed, for example).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// ants (under gridkv's optional gnet engine) starts a package-level
		// pool at init; it is not the application's.
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
	)
}

func TestSessionExpires(t *testing.T) {
	clock := hlc.NewManualClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	node, err := newSingleNode(clock)
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	s := NewSessions(node, 30*time.Minute)
	ctx := context.Background()

	token, err := s.Login(ctx, "ada")
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(29 * time.Minute)
	if u, err := s.User(ctx, token); err != nil || u != "ada" {
		t.Fatalf("User at 29m = %q, %v", u, err)
	}
	clock.Advance(2 * time.Minute)
	if _, err := s.User(ctx, token); !errors.Is(err, ErrNoSession) {
		t.Fatalf("User at 31m = %v, want ErrNoSession", err)
	}
}

func TestLoginUnavailableWhenPartitioned(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := newTestCluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	c.net.Partition([]string{clusterAddr(0), clusterAddr(1)}, []string{clusterAddr(2)})
	if err := c.waitAlive(ctx, c.nodes[2:], 1); err != nil {
		t.Fatal(err)
	}
	if _, err := NewSessions(c.nodes[2], time.Hour).Login(ctx, "ada"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Login on the minority side = %v, want ErrUnavailable", err)
	}
	if _, err := NewSessions(c.nodes[0], time.Hour).Login(ctx, "ada"); err != nil {
		t.Fatalf("Login on the majority side = %v", err)
	}
}
