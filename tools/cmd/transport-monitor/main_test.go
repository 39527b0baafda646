package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gridkv/gridkv/gridkv"
	"github.com/gridkv/gridkv/tools/server"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// ants (under gnet, used by transport) starts a package-level
		// default pool at init; it is not ours.
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
	)
}

// startNode starts a node with its admin server on loopback.
func startNode(t *testing.T, seeds []string) (*gridkv.Node, *server.Server) {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.Addr, cfg.AdminAddr, cfg.ReplicationFactor = "127.0.0.1:0", "127.0.0.1:0", 3
	o := gridkv.DefaultOptions()
	o.BindAddr, o.Seeds, o.Gossip, o.AntiEntropyInterval = "127.0.0.1:0", seeds, gridkv.GossipLocal, 0
	node, err := gridkv.New(cfg.NodeOptions(o))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(node, cfg)
	if err == nil {
		err = srv.Start()
	}
	if err != nil {
		node.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = node.Close()
	})
	return node, srv
}

func TestMonitorTable(t *testing.T) {
	n0, s0 := startNode(t, nil)
	n1, s1 := startNode(t, []string{n0.Addr()})
	n2, s2 := startNode(t, []string{n0.Addr()})
	deadline := time.Now().Add(20 * time.Second)
	for _, n := range []*gridkv.Node{n0, n1, n2} {
		for n.Ring().Len() < 3 { // gossip converges in rounds: poll the condition
			if time.Now().After(deadline) {
				t.Fatal("cluster did not converge")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// Quorum writes from every node give each node traffic to both peers.
	for i := range 30 {
		for _, n := range []*gridkv.Node{n0, n1, n2} {
			if err := n.Set(t.Context(), "k"+string(rune('a'+i%26)), []byte("v"), gridkv.WithConsistency(gridkv.All)); err != nil {
				t.Fatal(err)
			}
		}
	}
	var out, errOut strings.Builder
	nodes := strings.Join([]string{s0.AdminAddr(), s1.AdminAddr(), s2.AdminAddr(), "127.0.0.1:1"}, ",")
	if code := run(t.Context(), []string{"--nodes", nodes, "--count", "2", "--interval", "50ms"}, &out, &errOut, false); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	polls := strings.Split(out.String(), "transport-monitor  ")
	if len(polls) != 3 {
		t.Fatalf("want 2 polls:\n%s", out.String())
	}
	for i, poll := range polls[1:] {
		for _, n := range []*gridkv.Node{n0, n1, n2} {
			peers := regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(n.ID())+`\s+\S+\s+alive\s+≤`).FindAllString(poll, -1)
			if len(peers) != 2 {
				t.Errorf("poll %d: node %s shows %d alive peers with an RTT:\n%s", i+1, n.ID(), len(peers), poll)
			}
		}
		if !regexp.MustCompile(`(?m)^127\.0\.0\.1:1\s+-\s+unreachable`).MatchString(poll) {
			t.Errorf("poll %d: unreachable node not reported:\n%s", i+1, poll)
		}
	}
	// The second poll has rates (numbers, not "-") for every peer.
	if regexp.MustCompile(`alive\s+\S+\s+\S+\s+\d+\s+-\s`).MatchString(polls[2]) {
		t.Errorf("second poll lacks rates:\n%s", polls[2])
	}
}
