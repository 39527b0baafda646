package swim

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	pb "github.com/gridkv/gridkv/swim/internal/swimpb"
)

func TestConfigValidate(t *testing.T) {
	net := NewMemNetwork(1)
	defer net.Close()
	tr, _ := net.NewTransport("v")
	for name, mk := range map[string]func() Config{
		"lan": DefaultLANConfig, "wan": DefaultWANConfig, "local": DefaultLocalConfig,
	} {
		c := mk()
		c.Name, c.Transport = "x", tr
		if err := c.Validate(); err != nil {
			t.Fatalf("%s defaults invalid: %v", name, err)
		}
	}
	bad := []func(*Config){
		func(c *Config) { c.Name = "" },
		func(c *Config) { c.Transport = nil },
		func(c *Config) { c.ProbeTimeout = c.ProbeInterval },
		func(c *Config) { c.MTU = 100 },
		func(c *Config) { c.Label = strings.Repeat("l", 256) },
		func(c *Config) { c.Meta = make([]byte, c.MetaMaxSize+1) },
		func(c *Config) { c.GossipNodes = 0 },
		func(c *Config) { c.DeadRetention = time.Second },
	}
	for i, mut := range bad {
		c := DefaultLANConfig()
		c.Name, c.Transport = "x", tr
		mut(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("case %d: %v, want ErrInvalidConfig", i, err)
		}
		if _, err := Create(c); !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("case %d: Create accepted an invalid config", i)
		}
	}
}

func TestNodeAPIErrors(t *testing.T) {
	net := NewMemNetwork(1)
	defer net.Close()
	nodes := startNodes(t, 1, func(int) (Transport, error) { return net.NewTransport("api") }, nil)
	n := nodes[0]
	ctx := context.Background()
	n.log.waitFor(t, 5*time.Second, "the local join event", func() bool { return n.log.count(EventJoin, "node-0") == 1 })
	if _, err := n.Join(ctx, nil); !errors.Is(err, ErrNoSeeds) {
		t.Fatalf("Join(nil): %v", err)
	}
	if _, err := n.Join(ctx, []string{"nowhere"}); !errors.Is(err, ErrJoinFailed) || !errors.Is(err, ErrUnreachable) {
		t.Fatalf("Join(nowhere): %v", err)
	}
	if err := n.UpdateMeta(make([]byte, 10000)); !errors.Is(err, ErrMetaTooLarge) {
		t.Fatalf("UpdateMeta: %v", err)
	}
	if err := n.Broadcast(make([]byte, 2000)); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("Broadcast: %v", err)
	}
	if got := n.LocalNode(); got.Name != "node-0" || got.State != StateAlive || got.Addr != "api" {
		t.Fatalf("LocalNode: %+v", got)
	}
	// Leaving alone returns at once: there is nobody to tell.
	if err := n.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n.UpdateMeta(nil); !errors.Is(err, ErrLeft) {
		t.Fatalf("UpdateMeta after Leave: %v", err)
	}
	if err := n.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := n.Shutdown(); err != nil {
		t.Fatal("second Shutdown:", err)
	}
	if _, err := n.Join(ctx, []string{"x"}); !errors.Is(err, ErrShutdown) {
		t.Fatalf("Join after Shutdown: %v", err)
	}
	if err := n.Broadcast(nil); !errors.Is(err, ErrShutdown) {
		t.Fatalf("Broadcast after Shutdown: %v", err)
	}
}

func TestEventsChannelInOrder(t *testing.T) {
	net := NewMemNetwork(4)
	defer net.Close()
	ch := make(chan Event, 64)
	trA, _ := net.NewTransport("ev-a")
	trB, _ := net.NewTransport("ev-b")
	cfg := DefaultLocalConfig()
	cfg.Name, cfg.Transport, cfg.Events = "a", trA, ch
	a, err := Create(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown()
	cfg = DefaultLocalConfig()
	cfg.Name, cfg.Transport = "b", trB
	b, err := Create(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Shutdown()
	if _, err := b.Join(context.Background(), []string{"ev-a"}); err != nil {
		t.Fatal(err)
	}
	if err := b.UpdateMeta([]byte("v2")); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		kind EventKind
		name string
	}{{EventJoin, "a"}, {EventJoin, "b"}, {EventUpdate, "b"}}
	timeout := time.After(10 * time.Second)
	for i, w := range want {
		select {
		case e := <-ch:
			if e.Kind != w.kind || e.Member.Name != w.name {
				t.Fatalf("event %d: %v %s, want %v %s", i, e.Kind, e.Member.Name, w.kind, w.name)
			}
		case <-timeout:
			t.Fatalf("timed out waiting for event %d", i)
		}
	}
}

func TestPausedSuspectKeepsFullTimeout(t *testing.T) {
	cfg := DefaultLANConfig()
	c := testCore(t, cfg, "m0", "m1", "m2", "m3")
	for _, from := range []string{"m1", "m2", "m3"} {
		c.applySuspect(simEpoch, &pb.Update{Kind: pb.Update_KIND_SUSPECT, Node: "m0", From: from, Connected: true})
	}
	s := c.members["m0"].susp
	if got := s.timeout(); got != s.max {
		t.Fatalf("connected-but-silent confirmations shrank the timeout to %v (max %v)", got, s.max)
	}
	c.applySuspect(simEpoch, &pb.Update{Kind: pb.Update_KIND_SUSPECT, Node: "m0", From: "self"})
	if got := s.timeout(); got != s.max {
		t.Fatalf("a single countable accuser is no confirmation: %v", got)
	}
}

func TestMemNetworkFaults(t *testing.T) {
	n := NewMemNetwork(5)
	defer n.Close()
	a, _ := n.NewTransport("a")
	b, _ := n.NewTransport("b")
	defer a.Close()
	defer b.Close()
	a.WritePacket([]byte("1"), "b")
	if p := <-b.Packets(); string(p.Data) != "1" || p.From != "a" {
		t.Fatalf("got %+v", p)
	}
	n.Stall("b")
	a.WritePacket([]byte("2"), "b")
	select {
	case p := <-b.Packets():
		t.Fatalf("stalled node received %q", p.Data)
	default:
	}
	n.Resume("b")
	if p := <-b.Packets(); string(p.Data) != "2" {
		t.Fatalf("held packet not delivered on resume: %q", p.Data)
	}
	n.Partition([]string{"a"}, []string{"b"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := a.DialStream(ctx, "b"); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("dial across a partition: %v", err)
	}
	n.Heal()
	n.SetDrop(1)
	a.WritePacket([]byte("3"), "b")
	n.SetDrop(0)
	a.WritePacket([]byte("4"), "b")
	if p := <-b.Packets(); string(p.Data) != "4" {
		t.Fatalf("drop=1 delivered %q", p.Data)
	}
	n.SetDelay(time.Millisecond)
	a.WritePacket([]byte("5"), "b")
	if p := <-b.Packets(); string(p.Data) != "5" {
		t.Fatalf("delayed packet: %q", p.Data)
	}
}

func TestResolveReresolvesHostNames(t *testing.T) {
	ctx := context.Background()
	if got := resolve(ctx, "127.0.0.1:7946"); len(got) != 1 || got[0] != "127.0.0.1:7946" {
		t.Fatalf("IP address changed: %v", got)
	}
	if got := resolve(ctx, "mem-3"); len(got) != 1 || got[0] != "mem-3" {
		t.Fatalf("non host:port address changed: %v", got)
	}
	got := resolve(ctx, "localhost:7946")
	found := false
	for _, a := range got {
		if a == "127.0.0.1:7946" || a == "[::1]:7946" {
			found = true
		}
	}
	if !found {
		t.Fatalf("localhost resolved to %v", got)
	}
}
