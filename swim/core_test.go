package swim

import (
	"fmt"
	"slices"
	"testing"
	"time"

	pb "github.com/gridkv/gridkv/swim/internal/swimpb"
)

func testCore(t *testing.T, cfg Config, names ...string) *core {
	t.Helper()
	cfg.Name = "self"
	c := newCore(&cfg, "addr-self", simEpoch, 1, 0)
	for _, n := range names {
		c.applyAlive(simEpoch, &pb.Update{Kind: pb.Update_KIND_ALIVE, Node: n, Addr: "addr-" + n})
	}
	c.ready()
	return c
}

func TestSuspicionTimeoutShrinksWithConfirmations(t *testing.T) {
	cfg := DefaultLANConfig()
	cfg.UnreachableSuspicionTimeout = 0
	var names []string
	for i := 0; i < 9; i++ {
		names = append(names, fmt.Sprintf("m%d", i))
	}
	c := testCore(t, cfg, names...) // n = 10 live members
	minT := 4 * time.Second         // SuspicionMult * log10(10) * 1s
	maxT := 6 * minT
	c.applySuspect(simEpoch, &pb.Update{Kind: pb.Update_KIND_SUSPECT, Node: "m0", From: "m1"})
	m := c.members["m0"]
	if m.State != StateSuspect {
		t.Fatalf("state %v, want suspect", m.State)
	}
	if got := m.susp.timeout(); got != maxT {
		t.Fatalf("timeout with no confirmation = %v, want max %v", got, maxT)
	}
	prev := maxT
	for i, from := range []string{"m2", "m3"} {
		c.applySuspect(simEpoch, &pb.Update{Kind: pb.Update_KIND_SUSPECT, Node: "m0", From: from})
		got := m.susp.timeout()
		if got >= prev {
			t.Fatalf("confirmation %d did not shorten the timeout: %v >= %v", i+1, got, prev)
		}
		prev = got
	}
	if prev != minT {
		t.Fatalf("after k=2 confirmations timeout = %v, want min %v", prev, minT)
	}
	// A repeated confirmation from the same member does not count.
	c.applySuspect(simEpoch, &pb.Update{Kind: pb.Update_KIND_SUSPECT, Node: "m0", From: "m2"})
	if len(m.susp.confirmers) != 3 {
		t.Fatalf("confirmers %v", m.susp.confirmers)
	}
	// The member dies exactly at the deadline, not a tick before. Ticks come
	// at least every probe interval, as in the runtime; no probing here.
	c.nextProbe = simEpoch.Add(time.Hour)
	for at := simEpoch; at.Before(simEpoch.Add(minT)); at = at.Add(100 * time.Millisecond) {
		c.tick(at)
	}
	c.tick(simEpoch.Add(minT - time.Millisecond))
	if m.State != StateSuspect {
		t.Fatalf("declared %v before the timeout", m.State)
	}
	c.tick(simEpoch.Add(minT))
	if m.State != StateDead {
		t.Fatalf("state %v at the deadline, want dead", m.State)
	}
	_, _, evs := c.ready()
	if i := slices.IndexFunc(evs, func(e Event) bool { return e.Kind == EventFail && e.Member.Name == "m0" }); i < 0 {
		t.Fatalf("no fail event in %v", evs)
	}
}

func TestUnreachableConfirmationsFastPath(t *testing.T) {
	cfg := DefaultLANConfig()
	c := testCore(t, cfg, "m0", "m1", "m2", "m3")
	for _, from := range []string{"m1", "m2"} {
		c.applySuspect(simEpoch, &pb.Update{Kind: pb.Update_KIND_SUSPECT, Node: "m0", From: from, Unreachable: true})
	}
	s := c.members["m0"].susp
	if s.timeout() == cfg.UnreachableSuspicionTimeout {
		t.Fatal("fast path taken with only 2 unreachable reports (k+1 = 3 needed)")
	}
	c.applySuspect(simEpoch, &pb.Update{Kind: pb.Update_KIND_SUSPECT, Node: "m0", From: "m3", Unreachable: false})
	if s.timeout() == cfg.UnreachableSuspicionTimeout {
		t.Fatal("a reachable-but-silent report counted as unreachable")
	}
	// The same accuser upgrading its report to unreachable counts.
	c.applySuspect(simEpoch, &pb.Update{Kind: pb.Update_KIND_SUSPECT, Node: "m0", From: "m3", Unreachable: true})
	if got := s.timeout(); got != cfg.UnreachableSuspicionTimeout {
		t.Fatalf("timeout %v, want %v", got, cfg.UnreachableSuspicionTimeout)
	}
}

func TestRefutation(t *testing.T) {
	c := testCore(t, DefaultLANConfig(), "m0")
	c.applySuspect(simEpoch, &pb.Update{Kind: pb.Update_KIND_SUSPECT, Node: "self", Incarnation: 0, From: "m0"})
	if c.self.Incarnation != 1 || c.self.State != StateAlive {
		t.Fatalf("after refuting: inc %d state %v", c.self.Incarnation, c.self.State)
	}
	it := c.queue.byKey["m:self"]
	if it == nil || it.upd.GetKind() != pb.Update_KIND_ALIVE || it.upd.GetIncarnation() != 1 {
		t.Fatalf("refutation not queued: %+v", it)
	}
	if c.health != 1 {
		t.Fatalf("health %d after a refutation, want 1", c.health)
	}
	// A stale suspicion (older incarnation) is ignored.
	c.applyDead(simEpoch, &pb.Update{Kind: pb.Update_KIND_DEAD, Node: "self", Incarnation: 0, From: "m0"})
	if c.self.Incarnation != 1 {
		t.Fatal("stale accusation caused a refutation")
	}
	// Buddy system: a ping that carries the suspicion triggers it too.
	c.stepPacket(simEpoch, "addr-m0", &pb.Packet{Pings: []*pb.Ping{{Seq: 5, Target: "self", Suspected: true, Incarnation: 1}}})
	if c.self.Incarnation != 2 {
		t.Fatalf("buddy ping did not refute: inc %d", c.self.Incarnation)
	}
	out, _, _ := c.ready()
	if len(out) != 1 || out[0].addr != "addr-m0" || len(out[0].pkt.Acks) != 1 || out[0].pkt.Acks[0].Seq != 5 {
		t.Fatalf("ping not acked: %+v", out)
	}
	if !slices.ContainsFunc(out[0].pkt.Updates, func(u *pb.Update) bool { return u.Node == "self" && u.Incarnation == 2 }) {
		t.Fatal("refutation not piggybacked on the ack to the prober")
	}
}

// probeCycle checks the exact messages of one failed probe: ping, then at
// ProbeTimeout indirect pings plus a stream probe, then at ProbeInterval a
// suspicion.
func TestProbeSuspectDeadTransitions(t *testing.T) {
	cfg := DefaultLANConfig()
	cfg.UnreachableSuspicionTimeout = 0
	cfg.PushPullInterval = 0
	c := testCore(t, cfg, "m0", "m1", "m2", "m3")
	c.queue = newGossipQueue(16) // nothing to gossip: only probe traffic
	start := c.nextProbe
	c.tick(start)
	out, _, _ := c.ready()
	if len(out) != 1 || len(out[0].pkt.Pings) != 1 {
		t.Fatalf("want one ping, got %+v", out)
	}
	target := out[0].pkt.Pings[0].Target
	c.tick(start.Add(cfg.ProbeTimeout))
	out, ops, _ := c.ready()
	if len(out) != 3 {
		t.Fatalf("want %d indirect pings, got %d", cfg.IndirectChecks, len(out))
	}
	for _, o := range out {
		if len(o.pkt.IndirectPings) != 1 || o.pkt.IndirectPings[0].Target != target || o.addr == "addr-"+target {
			t.Fatalf("bad indirect ping %+v", o)
		}
	}
	if len(ops) != 1 || ops[0].kind != opProbe || ops[0].target != target {
		t.Fatalf("want a stream probe, got %+v", ops)
	}
	// One helper answers with a nack; two stay silent.
	c.stepPacket(start.Add(600*time.Millisecond), out[0].addr, &pb.Packet{Nacks: []*pb.Nack{{Seq: c.probe.seq}}})
	c.tick(start.Add(cfg.ProbeInterval))
	m := c.members[target]
	if m.State != StateSuspect {
		t.Fatalf("after a failed probe: %v, want suspect", m.State)
	}
	if c.health != 2 {
		t.Fatalf("health %d, want 2 (two missing nacks)", c.health)
	}
	// Local health multiplies the suspicion timeout: max = 6*4s, times 3.
	want := start.Add(cfg.ProbeInterval).Add(3 * 24 * time.Second)
	if got := c.suspicionDeadline(m.susp); !got.Equal(want) {
		t.Fatalf("deadline %v, want %v", got.Sub(simEpoch), want.Sub(simEpoch))
	}
	// The next probe, started right away, also spans three intervals.
	if got := c.nextProbe.Sub(start); got != cfg.ProbeInterval+3*cfg.ProbeInterval {
		t.Fatalf("next probe after %v", got)
	}
	for at := start.Add(cfg.ProbeInterval); at.Before(want); at = at.Add(500 * time.Millisecond) {
		c.tick(at)
		c.probe = nil // keep probing out of the way of the exact deadline
		if m.State != StateSuspect {
			t.Fatalf("%v before the deadline at %v", m.State, at.Sub(simEpoch))
		}
	}
	c.tick(want)
	if m.State != StateDead {
		t.Fatalf("state %v at deadline, want dead", m.State)
	}
}

func TestSimLocalHealthSlowsIsolatedNode(t *testing.T) {
	s := newSim(t, DefaultLANConfig(), 5)
	nodes := s.bootstrap(8, 5*time.Millisecond)
	if _, ok := s.runFor(5*time.Second, s.converged); !ok {
		t.Fatal("no convergence")
	}
	lonely := nodes[3]
	// lonely hears nothing (inbound dropped) but others can still hear it.
	s.partition(nodes, []*simNode{lonely})
	before := lonely.c.stats.probes
	other := nodes[5].c.stats.probes
	s.run(20 * time.Second)
	lp, op := lonely.c.stats.probes-before, nodes[5].c.stats.probes-other
	if lonely.c.health == 0 {
		t.Fatal("isolated node kept a perfect health score")
	}
	if lp*2 > op {
		t.Fatalf("isolated node probed %d times vs %d for a healthy one: not slowed", lp, op)
	}
	t.Logf("isolated node: %d probes, health %d; healthy node: %d probes", lp, lonely.c.health, op)
}

func TestSimLeaveVersusFail(t *testing.T) {
	s := newSim(t, DefaultLANConfig(), 6)
	nodes := s.bootstrap(6, 5*time.Millisecond)
	s.runFor(5*time.Second, s.converged)
	leaver, victim := nodes[1], nodes[2]
	leaver.c.leave(s.now)
	s.flush(leaver)
	s.run(2 * time.Second)
	s.kill(leaver)
	s.kill(victim)
	s.run(60 * time.Second)
	for _, n := range []*simNode{nodes[0], nodes[3], nodes[4], nodes[5]} {
		leaves, fails := 0, 0
		for _, e := range n.events {
			switch {
			case e.Kind == EventLeave && e.Member.Name == leaver.name:
				leaves++
			case e.Kind == EventFail && e.Member.Name == leaver.name:
				t.Fatalf("%s saw the leaver fail", n.name)
			case e.Kind == EventFail && e.Member.Name == victim.name:
				fails++
			}
		}
		if leaves != 1 || fails != 1 {
			t.Fatalf("%s: %d leave and %d fail events, want 1 and 1", n.name, leaves, fails)
		}
		if s.state(n, leaver) != int(StateLeft) || s.state(n, victim) != int(StateDead) {
			t.Fatalf("%s: states %d %d", n.name, s.state(n, leaver), s.state(n, victim))
		}
	}
}

func TestSimPushPullMergesTwoClusters(t *testing.T) {
	cfg := DefaultLANConfig()
	s := newSim(t, cfg, 7)
	a, b, c, d := s.add("a"), s.add("b"), s.add("c"), s.add("d")
	s.join(b, a)
	s.join(d, c)
	s.run(3 * time.Second)
	if s.state(a, c) != -1 {
		t.Fatal("clusters should not know each other yet")
	}
	s.join(a, c)
	took, ok := s.runFor(5*time.Second, s.converged)
	if !ok {
		t.Fatal("push-pull did not merge the clusters")
	}
	t.Logf("merged in %v", took)
}

func TestSimPartitionHealMerges(t *testing.T) {
	s := newSim(t, DefaultLANConfig(), 8)
	nodes := s.bootstrap(10, 5*time.Millisecond)
	if _, ok := s.runFor(5*time.Second, s.converged); !ok {
		t.Fatal("no convergence")
	}
	left, right := nodes[:5], nodes[5:]
	s.partition(left, right)
	_, ok := s.runFor(90*time.Second, func() bool {
		for _, n := range left {
			for _, m := range right {
				if s.state(n, m) != int(StateDead) || s.state(m, n) != int(StateDead) {
					return false
				}
			}
		}
		return true
	})
	if !ok {
		t.Fatal("the halves did not declare each other dead")
	}
	s.heal()
	took, ok := s.runFor(90*time.Second, s.converged)
	if !ok {
		t.Fatal("halves did not merge after the partition healed")
	}
	t.Logf("merged %v after healing", took)
}

func TestSimDeterministic(t *testing.T) {
	trace := func() []string {
		s := newSim(t, DefaultLANConfig(), 9)
		nodes := s.bootstrap(8, 3*time.Millisecond)
		s.drop = 0.1
		s.kill(nodes[4])
		s.run(20 * time.Second)
		var out []string
		for _, n := range nodes {
			for _, e := range n.events {
				out = append(out, fmt.Sprintf("%s %v %s %s", n.name, e.At.Sub(simEpoch), e.Kind, e.Member.Name))
			}
		}
		return append(out, fmt.Sprint(s.bytes))
	}
	a, b := trace(), trace()
	if !slices.Equal(a, b) {
		t.Fatal("same seed, different traces")
	}
}

func TestSimDeadMembersAreReaped(t *testing.T) {
	cfg := DefaultLANConfig()
	cfg.DeadRetention = 40 * time.Second
	s := newSim(t, cfg, 10)
	nodes := s.bootstrap(4, 5*time.Millisecond)
	s.runFor(5*time.Second, s.converged)
	// Churn: 30 nodes come and die one after the other.
	peak := 0
	for i := 0; i < 30; i++ {
		n := s.add(fmt.Sprintf("churn%02d", i))
		s.join(n, nodes[0])
		s.run(2 * time.Second)
		s.kill(n)
		s.run(10 * time.Second)
		peak = max(peak, len(nodes[0].c.members))
	}
	// Retention 40s with one death every 12s: at most ~4 remembered dead.
	if peak > 4+5 {
		t.Fatalf("table grew to %d entries during churn", peak)
	}
	s.run(cfg.DeadRetention + 30*time.Second)
	for _, n := range nodes {
		if got := len(n.c.members); got != 4 {
			t.Fatalf("%s remembers %d members after churn, want 4", n.name, got)
		}
	}
}

func TestGossipQueueOrderAndLimit(t *testing.T) {
	q := newGossipQueue(16)
	for i := 0; i < 3; i++ {
		q.push(fmt.Sprint(i), &pb.Update{Kind: pb.Update_KIND_ALIVE, Node: fmt.Sprint(i), Addr: "a"}, nil)
	}
	pkt := &pb.Packet{}
	q.fill(pkt, 1000, 2)
	if len(pkt.Updates) != 3 || pkt.Updates[0].Node != "2" {
		t.Fatalf("newest first: got %v", pkt.Updates)
	}
	q.push("3", &pb.Update{Kind: pb.Update_KIND_ALIVE, Node: "3", Addr: "a"}, nil)
	pkt = &pb.Packet{}
	q.fill(pkt, 1000, 2)
	if pkt.Updates[0].Node != "3" {
		t.Fatalf("least sent first: got %v", pkt.Updates)
	}
	if q.len() != 1 {
		t.Fatalf("items past the limit not retired: %d left", q.len())
	}
	// A budget too small for any item sends nothing.
	pkt = &pb.Packet{}
	if used := q.fill(pkt, 3, 2); used != 0 || len(pkt.Updates) != 0 {
		t.Fatal("overfilled packet")
	}
	// Bounded: pushing past max drops items.
	for i := 0; i < 40; i++ {
		q.push(fmt.Sprint("x", i), &pb.Update{Kind: pb.Update_KIND_ALIVE, Node: "x", Addr: "a"}, nil)
	}
	if q.len() > 16 {
		t.Fatalf("queue grew to %d", q.len())
	}
}

func TestUnreachableSuspicionExpeditesProbe(t *testing.T) {
	cfg := DefaultLANConfig()
	c := testCore(t, cfg, "m0", "m1", "m2", "m3")
	c.queue = newGossipQueue(16)
	now := simEpoch.Add(100 * time.Millisecond)
	c.nextProbe = simEpoch.Add(900 * time.Millisecond)
	// A silent-but-connected report does not reorder probing.
	c.applySuspect(now, &pb.Update{Kind: pb.Update_KIND_SUSPECT, Node: "m0", From: "m1", Connected: true})
	if !c.nextProbe.Equal(simEpoch.Add(900*time.Millisecond)) || len(c.urgent) != 0 {
		t.Fatal("a paused-looking suspect was expedited")
	}
	c.applySuspect(now, &pb.Update{Kind: pb.Update_KIND_SUSPECT, Node: "m0", From: "m2", Unreachable: true})
	if !c.nextProbe.Equal(now) {
		t.Fatalf("next probe at %v, want now", c.nextProbe.Sub(simEpoch))
	}
	c.tick(now)
	out, _, _ := c.ready()
	if len(out) == 0 || len(out[0].pkt.Pings) != 1 || out[0].pkt.Pings[0].Target != "m0" || !out[0].pkt.Pings[0].Suspected {
		t.Fatalf("expected a buddy ping to m0 first, got %+v", out)
	}
}
