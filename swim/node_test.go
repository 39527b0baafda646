package swim

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// eventLog collects events of one node and lets a test wait for a condition
// on them, woken by each new event (no polling sleeps).
type eventLog struct {
	mu     sync.Mutex
	events []Event
	signal chan struct{}
}

func newEventLog() *eventLog { return &eventLog{signal: make(chan struct{}, 1)} }

func (l *eventLog) HandleEvent(e Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
	select {
	case l.signal <- struct{}{}:
	default:
	}
}

func (l *eventLog) count(kind EventKind, name string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.events {
		if e.Kind == kind && (name == "" || e.Member.Name == name) {
			n++
		}
	}
	return n
}

// waitFor blocks until cond holds, re-checking on each event and at most
// every 100 ms (some conditions, like a checksum, change without an event).
func (l *eventLog) waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-l.signal:
		case <-tick.C:
		case <-deadline.C:
			l.mu.Lock()
			var trace []string
			for _, e := range l.events {
				trace = append(trace, fmt.Sprintf("%s %s/%v/%d", e.Kind, e.Member.Name, e.Member.State, e.Member.Incarnation))
			}
			l.mu.Unlock()
			t.Fatalf("timed out after %v waiting for %s; events: %v", timeout, what, trace)
		}
	}
}

type testNode struct {
	*Node
	log *eventLog
}

func startNodes(t *testing.T, n int, mk func(i int) (Transport, error), tune func(*Config)) []*testNode {
	t.Helper()
	var nodes []*testNode
	for i := 0; i < n; i++ {
		tr, err := mk(i)
		if err != nil {
			t.Fatal(err)
		}
		cfg := DefaultLocalConfig()
		cfg.Name = fmt.Sprintf("node-%d", i)
		cfg.Transport = tr
		cfg.RandSeed = uint64(i + 1)
		log := newEventLog()
		cfg.EventDelegate = log
		if tune != nil {
			tune(&cfg)
		}
		nd, err := Create(cfg)
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, &testNode{nd, log})
		t.Cleanup(func() { nd.Shutdown() })
	}
	return nodes
}

func joinAll(t *testing.T, nodes []*testNode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, nd := range nodes[1:] {
		if _, err := nd.Join(ctx, []string{nodes[0].Addr()}); err != nil {
			t.Fatal(err)
		}
	}
	for _, nd := range nodes {
		nd.log.waitFor(t, 10*time.Second, nd.Name()+" to see every member", func() bool {
			return nd.NumMembers() == len(nodes)
		})
	}
}

// Name returns the node's name (test helper).
func (n *testNode) Name() string { return n.cfg.Name }

func converged(nodes []*testNode) bool {
	sum := nodes[0].Checksum()
	for _, nd := range nodes[1:] {
		if nd.Checksum() != sum {
			return false
		}
	}
	return true
}

func TestLoopback8Nodes(t *testing.T) {
	key := make([]byte, KeySize)
	for i := range key {
		key[i] = byte(i)
	}
	kr, err := NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	nodes := startNodes(t, 8, func(int) (Transport, error) {
		return NewNetTransport(DefaultNetTransportConfig())
	}, func(c *Config) { c.Keyring = kr; c.Label = "loopback-test" })
	joinAll(t, nodes)
	nodes[0].log.waitFor(t, 10*time.Second, "checksums to agree", func() bool { return converged(nodes) })

	// Metadata update reaches everyone.
	if err := nodes[3].UpdateMeta([]byte("zone=b")); err != nil {
		t.Fatal(err)
	}
	for _, nd := range nodes {
		nd.log.waitFor(t, 10*time.Second, "meta update", func() bool {
			for _, m := range nd.Members() {
				if m.Name == "node-3" {
					return string(m.Meta) == "zone=b"
				}
			}
			return false
		})
	}

	// A user broadcast is delivered once to each other node.
	if err := nodes[2].Broadcast([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	for i, nd := range nodes {
		if i == 2 {
			continue
		}
		nd.log.waitFor(t, 10*time.Second, "user message", func() bool { return nd.log.count(EventMessage, "node-2") >= 1 })
	}

	// Graceful leave is seen as leave, not failure.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := nodes[7].Leave(ctx); err != nil {
		t.Fatal(err)
	}
	nodes[7].Shutdown()
	// A crash (shutdown without leave) is seen as failure.
	nodes[6].Shutdown()
	for _, nd := range nodes[:6] {
		nd.log.waitFor(t, 20*time.Second, nd.Name()+" to see leave and fail", func() bool {
			return nd.log.count(EventLeave, "node-7") == 1 && nd.log.count(EventFail, "node-6") == 1
		})
		if nd.log.count(EventFail, "node-7") != 0 {
			t.Fatalf("%s saw the leaving node fail", nd.Name())
		}
		if got := nd.log.count(EventMessage, "node-2"); nd.Name() != "node-2" && got != 1 {
			t.Fatalf("%s received the broadcast %d times", nd.Name(), got)
		}
		if s := nd.Stats(); s.AuthFailures != 0 || s.BadPackets != 0 {
			t.Fatalf("%s: unexpected bad packets %+v", nd.Name(), s)
		}
	}
	for _, nd := range nodes[:6] {
		for _, m := range nd.Members() {
			if m.Name == "node-6" || m.Name == "node-7" {
				t.Fatalf("%s still lists %s as %v", nd.Name(), m.Name, m.State)
			}
		}
	}
}

func TestMemNetworkRuntimePartitionHeal(t *testing.T) {
	net := NewMemNetwork(1)
	defer net.Close()
	nodes := startNodes(t, 6, func(i int) (Transport, error) {
		return net.NewTransport(fmt.Sprintf("mem-%d", i))
	}, func(c *Config) {
		// Fast timing keeps the wall time of this runtime test short.
		c.ProbeInterval, c.ProbeTimeout = 200*time.Millisecond, 60*time.Millisecond
		c.GossipInterval = 30 * time.Millisecond
		c.UnreachableSuspicionTimeout = 300 * time.Millisecond
		c.ReconnectInterval = 500 * time.Millisecond
	})
	joinAll(t, nodes)
	net.Partition([]string{"mem-0", "mem-1", "mem-2"}, []string{"mem-3", "mem-4", "mem-5"})
	for _, nd := range nodes {
		nd.log.waitFor(t, 30*time.Second, nd.Name()+" to see the other half dead", func() bool { return nd.NumMembers() == 3 })
	}
	net.Heal()
	for _, nd := range nodes {
		nd.log.waitFor(t, 30*time.Second, nd.Name()+" to see the halves merged", func() bool { return nd.NumMembers() == 6 })
	}
	nodes[0].log.waitFor(t, 30*time.Second, "checksums to agree", func() bool { return converged(nodes) })
}

func TestLabelsAndKeysIsolateClusters(t *testing.T) {
	net := NewMemNetwork(2)
	defer net.Close()
	k1 := make([]byte, KeySize)
	k2 := make([]byte, KeySize)
	k2[0] = 1
	kr1, _ := NewKeyring(k1)
	kr2, _ := NewKeyring(k2)
	nodes := startNodes(t, 3, func(i int) (Transport, error) {
		return net.NewTransport(fmt.Sprintf("iso-%d", i))
	}, nil)
	nodes[0].cfg.Keyring, nodes[0].codec.keyring = kr1, kr1
	nodes[1].codec.keyring = kr2
	nodes[2].codec.label = []byte("other")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, nd := range nodes[1:] {
		_, err := nd.Join(ctx, []string{nodes[0].Addr()})
		if !errors.Is(err, ErrJoinFailed) {
			t.Fatalf("join across keys/labels: got %v, want ErrJoinFailed", err)
		}
	}
	if nodes[0].Stats().AuthFailures == 0 {
		t.Fatal("no authentication failure counted")
	}
	if nodes[0].NumMembers() != 1 {
		t.Fatal("isolated clusters merged")
	}
}

func TestKeyRotation(t *testing.T) {
	net := NewMemNetwork(3)
	defer net.Close()
	old := make([]byte, KeySize)
	nw := make([]byte, KeySize)
	nw[31] = 9
	rings := make([]*Keyring, 3)
	nodes := startNodes(t, 3, func(i int) (Transport, error) {
		return net.NewTransport(fmt.Sprintf("rot-%d", i))
	}, func(c *Config) {
		kr, _ := NewKeyring(old)
		rings[int(c.Name[len(c.Name)-1]-'0')] = kr
		c.Keyring = kr
	})
	joinAll(t, nodes)
	for _, kr := range rings {
		if err := kr.Install(nw); err != nil {
			t.Fatal(err)
		}
	}
	// Switching primaries one node at a time keeps the cluster together.
	for _, kr := range rings {
		if err := kr.Use(nw); err != nil {
			t.Fatal(err)
		}
	}
	for _, kr := range rings {
		if err := kr.Remove(old); err != nil {
			t.Fatal(err)
		}
		if err := kr.Remove(nw); !errors.Is(err, ErrKey) {
			t.Fatalf("removing the primary: %v", err)
		}
	}
	nodes[2].Shutdown()
	for _, nd := range nodes[:2] {
		nd.log.waitFor(t, 20*time.Second, "failure seen under the new key", func() bool { return nd.log.count(EventFail, "node-2") == 1 })
	}
	for _, nd := range nodes[:2] {
		if nd.log.count(EventFail, "node-0")+nd.log.count(EventFail, "node-1") != 0 {
			t.Fatal("key rotation caused a false failure")
		}
	}
}
