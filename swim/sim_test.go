package swim

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	pb "github.com/gridkv/gridkv/swim/internal/swimpb"
)

// simCluster drives protocol cores over a simulated network in virtual
// time, on one goroutine: no sockets, no sleeps, fully reproducible from
// its seed. It can drop, delay, partition, stall and kill.
type simCluster struct {
	t       testing.TB
	cfg     Config
	now     time.Time
	nodes   []*simNode
	byAddr  map[string]*simNode
	byName  map[string]*simNode
	q       simQueue
	seq     int
	rng     *rand.Rand
	drop    float64
	latency time.Duration
	group   map[string]int
	codec   codec
	bytes   int64
	steps   int
}

type simNode struct {
	name, addr string
	c          *core
	killed     bool
	stalled    bool
	backlog    []func()
	events     []Event
	next       time.Time
}

type simEvent struct {
	at  time.Time
	seq int
	fn  func()
}

type simQueue []simEvent

func (q simQueue) Len() int { return len(q) }
func (q simQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q simQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *simQueue) Push(x any)   { *q = append(*q, x.(simEvent)) }
func (q *simQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

var simEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newSim(t testing.TB, cfg Config, seed uint64) *simCluster {
	return &simCluster{
		t: t, cfg: cfg, now: simEpoch,
		byAddr: map[string]*simNode{}, byName: map[string]*simNode{},
		rng: rand.New(rand.NewPCG(seed, 7)), latency: time.Millisecond,
		group: map[string]int{},
	}
}

// add creates a node that knows only itself.
func (s *simCluster) add(name string) *simNode {
	cfg := s.cfg
	cfg.Name = name
	n := &simNode{name: name, addr: "sim-" + name}
	n.c = newCore(&cfg, n.addr, s.now, uint64(len(s.nodes))+1+s.rng.Uint64()%1000, s.codec.overhead())
	s.nodes = append(s.nodes, n)
	s.byAddr[n.addr] = n
	s.byName[name] = n
	s.flush(n)
	return n
}

func (s *simCluster) at(d time.Duration, n *simNode, fn func()) {
	s.seq++
	heap.Push(&s.q, simEvent{at: s.now.Add(d), seq: s.seq, fn: func() {
		if n.killed {
			return
		}
		if n.stalled {
			n.backlog = append(n.backlog, fn)
			return
		}
		fn()
		s.flush(n)
	}})
}

func (s *simCluster) delay() time.Duration {
	return s.latency + time.Duration(s.rng.Int64N(int64(s.latency)+1))
}

func (s *simCluster) cut(a, b *simNode) bool { return s.group[a.name] != s.group[b.name] }

func (s *simCluster) flush(n *simNode) {
	out, ops, evs := n.c.ready()
	n.events = append(n.events, evs...)
	for _, o := range out {
		s.sendPacket(n, o)
	}
	for _, op := range ops {
		s.doOp(n, op)
	}
	n.next = n.c.nextDeadline()
}

func (s *simCluster) sendPacket(src *simNode, o outPacket) {
	b, err := s.codec.encodePacket(o.pkt)
	if err != nil {
		s.t.Fatalf("encode: %v", err)
	}
	if len(b) > s.cfg.MTU {
		s.t.Fatalf("packet of %d bytes exceeds MTU %d", len(b), s.cfg.MTU)
	}
	s.bytes += int64(len(b))
	dst := s.byAddr[o.addr]
	if dst == nil || s.cut(src, dst) || (s.drop > 0 && s.rng.Float64() < s.drop) {
		return
	}
	s.at(s.delay(), dst, func() {
		pkt, err := s.codec.decodePacket(b, s.cfg.MTU)
		if err != nil {
			s.t.Fatalf("decode: %v", err)
		}
		dst.c.stepPacket(s.now, src.addr, pkt)
	})
}

func (s *simCluster) doOp(src *simNode, op streamOp) {
	dst := s.byAddr[op.addr]
	reachable := dst != nil && !dst.killed && !s.cut(src, dst)
	switch op.kind {
	case opProbe:
		if !reachable {
			s.at(op.deadline.Sub(s.now), src, func() { src.c.streamProbeResult(s.now, op.seq, probeUnreachable) })
			return
		}
		// The connection opens. A stalled destination (its kernel accepts,
		// its process does not run) cannot answer before the deadline, when
		// the prober gives up with "connected, no reply".
		s.at(op.deadline.Sub(s.now), src, func() { src.c.streamProbeResult(s.now, op.seq, probeNoReply) })
		s.at(s.delay(), dst, func() {
			ack := dst.c.streamPing(s.now, &pb.Ping{Seq: op.seq, Target: op.target})
			if ack == nil {
				return
			}
			s.at(s.delay(), src, func() {
				if !s.now.After(op.deadline) {
					src.c.streamProbeResult(s.now, op.seq, probeAcked)
				}
			})
		})
	case opPushPull:
		if !reachable {
			return
		}
		req := src.c.pushPullRequest(op.join)
		s.at(s.delay(), dst, func() {
			resp := dst.c.handlePushPull(s.now, req)
			s.at(s.delay(), src, func() {
				if resp.InSync {
					return
				}
				src.c.mergeState(s.now, resp.From, resp.Members)
				if resp.WantState {
					st := src.c.localState()
					s.at(s.delay(), dst, func() { dst.c.mergeState(s.now, src.name, st) })
				}
			})
		})
	}
}

// join makes n join through seed, as Node.Join does.
func (s *simCluster) join(n, seed *simNode) {
	n.c.joined(s.now, []string{seed.addr})
	s.doOp(n, streamOp{kind: opPushPull, addr: seed.addr, join: true, deadline: s.now.Add(s.cfg.StreamTimeout)})
	n.next = n.c.nextDeadline()
}

func (s *simCluster) active(n *simNode) bool { return !n.killed && !n.stalled }

// run advances virtual time by d.
func (s *simCluster) run(d time.Duration) { s.runUntil(s.now.Add(d)) }

func (s *simCluster) runUntil(end time.Time) {
	for {
		next := end
		if len(s.q) > 0 && s.q[0].at.Before(next) {
			next = s.q[0].at
		}
		for _, n := range s.nodes {
			if s.active(n) && n.next.Before(next) {
				next = n.next
			}
		}
		if next.After(s.now) {
			s.now = next
		}
		progressed := false
		for len(s.q) > 0 && !s.q[0].at.After(s.now) {
			e := heap.Pop(&s.q).(simEvent)
			e.fn()
			progressed = true
		}
		for _, n := range s.nodes {
			if s.active(n) && !n.next.After(s.now) {
				n.c.tick(s.now)
				s.flush(n)
				if !n.next.After(s.now) {
					c := n.c
					s.t.Fatalf("%s: tick at %v left deadline %v not in the future (probe %v gossip %v pp %v rc %v reap %v settle %v relays %d)", n.name, s.now, n.next, c.nextProbe, c.nextGossip, c.nextPushPull, c.nextReconnect, c.nextReap, c.settle, len(c.relays))
				}
				progressed = true
			}
		}
		s.steps++
		if !progressed && !s.now.Before(end) {
			return
		}
	}
}

// runFor advances until cond holds (checked every step) or d passes; it
// returns the virtual time taken and whether cond held.
func (s *simCluster) runFor(d time.Duration, cond func() bool) (time.Duration, bool) {
	start := s.now
	end := start.Add(d)
	for s.now.Before(end) {
		if cond() {
			return s.now.Sub(start), true
		}
		s.runUntil(minTime(end, s.now.Add(10*time.Millisecond)))
	}
	return s.now.Sub(start), cond()
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func (s *simCluster) kill(n *simNode) { n.killed = true }

func (s *simCluster) stall(n *simNode, d time.Duration) {
	n.stalled = true
	s.seq++
	heap.Push(&s.q, simEvent{at: s.now.Add(d), seq: s.seq, fn: func() {
		n.stalled = false
		backlog := n.backlog
		n.backlog = nil
		for _, fn := range backlog {
			fn()
			s.flush(n)
		}
		n.next = n.c.nextDeadline()
	}})
}

func (s *simCluster) partition(groups ...[]*simNode) {
	for i, g := range groups {
		for _, n := range g {
			s.group[n.name] = i
		}
	}
}

func (s *simCluster) heal() { s.group = map[string]int{} }

// state returns observer's view of target, or -1 if unknown.
func (s *simCluster) state(observer, target *simNode) int {
	m := observer.c.members[target.name]
	if m == nil {
		return -1
	}
	return int(m.State)
}

// allSee reports whether every live node observer holds target in st.
func (s *simCluster) allSee(target *simNode, st State) bool {
	for _, n := range s.nodes {
		if n == target || n.killed {
			continue
		}
		if s.state(n, target) != int(st) {
			return false
		}
	}
	return true
}

// converged reports whether every live node sees every live node alive and
// all checksums agree.
func (s *simCluster) converged() bool {
	var sum uint64
	first := true
	for _, n := range s.nodes {
		if n.killed {
			continue
		}
		for _, m := range s.nodes {
			if m.killed {
				continue
			}
			if st := s.state(n, m); st != int(StateAlive) {
				return false
			}
		}
		cs := n.c.checksum()
		if first {
			sum, first = cs, false
		} else if cs != sum {
			return false
		}
	}
	return true
}

// failEvents counts EventFail events about target (nil: any) seen by
// observer (nil: anyone).
func (s *simCluster) failEvents(observer, target *simNode) int {
	count := 0
	for _, n := range s.nodes {
		if observer != nil && n != observer {
			continue
		}
		for _, e := range n.events {
			if e.Kind == EventFail && (target == nil || e.Member.Name == target.name) {
				count++
			}
		}
	}
	return count
}

// bootstrap creates n nodes; each joins the first one, staggered by gap.
func (s *simCluster) bootstrap(n int, gap time.Duration) []*simNode {
	first := s.add("n00")
	for i := 1; i < n; i++ {
		s.run(gap)
		nd := s.add(fmt.Sprintf("n%02d", i))
		s.join(nd, first)
	}
	return s.nodes
}
