package swim

import (
	"bytes"
	"encoding/binary"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/gridkv/gridkv/swim/internal/swimpb"
)

// The protocol core is a deterministic state machine in the style of
// etcd-io/raft: it never reads a clock, never sleeps, never touches the
// network and never starts a goroutine. Inputs are tick(now), stepPacket(now,
// from, packet), stream results and local commands; outputs accumulate in
// out (datagrams), ops (stream work for the caller) and events, and are
// drained with ready(). The same inputs in the same order, with the same
// seed, give the same outputs.

type opKind uint8

const (
	opProbe    opKind = iota + 1 // fallback probe over a stream
	opPushPull                   // full-state exchange
)

// streamOp is stream work the caller must perform and report back.
type streamOp struct {
	kind     opKind
	addr     string
	target   string // opProbe: expected member name
	seq      uint64 // opProbe: result key
	join     bool   // opPushPull: send full state up front
	seed     bool   // opPushPull: addr is a seed as given (resolve host names)
	deadline time.Time
}

type outPacket struct {
	addr string
	pkt  *pb.Packet
}

// probeResult is what a fallback stream probe learnt.
type probeResult uint8

const (
	probeUnknown     probeResult = iota // no stream probe result (yet)
	probeNoReply                        // connected, but no ack in time
	probeAcked                          // ack received over the stream
	probeUnreachable                    // the connection itself failed
)

// evidence is what an accuser knew when it suspected a member.
type evidence uint8

const (
	evidenceUnknown     evidence = iota // UDP probes failed; no stream result
	evidenceConnected                   // a stream opened but stayed silent
	evidenceUnreachable                 // not even a stream could be opened
)

func evidenceOf(u *pb.Update) evidence {
	switch {
	case u.GetUnreachable():
		return evidenceUnreachable
	case u.GetConnected():
		return evidenceConnected
	}
	return evidenceUnknown
}

type member struct {
	Member
	changed time.Time // when State last changed
	susp    *suspicion
}

type suspicion struct {
	start       time.Time
	confirmers  map[string]evidence
	k           int // confirmations expected
	min, max    time.Duration
	unreachable time.Duration
}

// timeout is the Lifeguard suspicion timeout: it starts at max and shrinks
// towards min with each independent confirmation. Two deviations, both
// driven by the fallback stream probe:
//   - a confirmation from an accuser that could open a stream to the
//     suspect (the host and kernel are up; the process is silent, perhaps
//     paused) does not shrink the timeout: a pause gets the full maximum;
//   - once SuspicionMult-1 accusers could not open a stream at all, the
//     timeout drops to UnreachableSuspicionTimeout.
func (s *suspicion) timeout() time.Duration {
	counted, unreachable := 0, 0
	for _, e := range s.confirmers {
		if e != evidenceConnected {
			counted++
		}
		if e == evidenceUnreachable {
			unreachable++
		}
	}
	c := max(counted-1, 0)
	t := s.min
	if s.k > 0 && c < s.k {
		frac := math.Log(float64(c)+1) / math.Log(float64(s.k)+1)
		t = s.max - time.Duration(frac*float64(s.max-s.min))
		if t < s.min {
			t = s.min
		}
	}
	if s.unreachable > 0 && s.unreachable < t && unreachable >= s.k+1 {
		t = s.unreachable
	}
	return t
}

type probe struct {
	seq        uint64
	target     string
	addr       string
	indirectAt time.Time
	end        time.Time
	indirect   bool
	expNacks   int
	nacks      int
	stream     probeResult
}

type relay struct {
	origSeq  uint64
	replyTo  string
	deadline time.Time
	nack     bool
}

type coreStats struct {
	probes, probeFailures, refutes, suspicions uint64
}

type core struct {
	cfg  *Config
	rng  *rand.Rand
	self *member

	members map[string]*member
	order   []string // randomized round-robin probe order
	orderIx int
	urgent  []string // suspects learnt from others: probe them first

	seq      uint64
	probe    *probe
	relays   map[uint64]*relay
	queue    *gossipQueue
	health   int
	leaving  bool
	seeds    []string
	userSeq  uint64
	seenUser map[string]struct{}
	seenFIFO []string

	lastNow       time.Time
	nextProbe     time.Time
	nextGossip    time.Time
	nextPushPull  time.Time
	nextReconnect time.Time
	nextReap      time.Time
	settle        []time.Time // extra push-pulls shortly after a join

	out    []outPacket
	ops    []streamOp
	events []Event
	stats  coreStats
	// sealOverhead is subtracted from the MTU when packing packets.
	sealOverhead int
}

func newCore(cfg *Config, addr string, now time.Time, seed uint64, sealOverhead int) *core {
	c := &core{
		cfg:          cfg,
		rng:          rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		members:      make(map[string]*member),
		relays:       make(map[uint64]*relay),
		queue:        newGossipQueue(cfg.MaxQueuedUpdates),
		seenUser:     make(map[string]struct{}),
		lastNow:      now,
		sealOverhead: sealOverhead,
	}
	c.self = &member{Member: Member{Name: cfg.Name, Addr: addr, Meta: slices.Clone(cfg.Meta)}, changed: now}
	c.members[cfg.Name] = c.self
	c.emit(now, EventJoin, c.self)
	// Spread timers so that nodes started together do not act in lockstep.
	c.nextProbe = now.Add(c.jitter(cfg.ProbeInterval))
	c.nextGossip = now.Add(c.jitter(cfg.GossipInterval))
	if cfg.PushPullInterval > 0 {
		c.nextPushPull = now.Add(cfg.PushPullInterval/2 + c.jitter(cfg.PushPullInterval))
	}
	if cfg.ReconnectInterval > 0 {
		c.nextReconnect = now.Add(cfg.ReconnectInterval + c.jitter(cfg.ReconnectInterval))
	}
	c.nextReap = now.Add(time.Second)
	return c
}

func (c *core) jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(c.rng.Int64N(int64(d)))
}

// scale multiplies d by the local health factor (Lifeguard LHA-probe).
func (c *core) scale(d time.Duration) time.Duration { return d * time.Duration(c.health+1) }

func (c *core) applyHealth(delta int) {
	c.health += delta
	if c.health < 0 {
		c.health = 0
	}
	if max := c.cfg.AwarenessMaxMultiplier - 1; c.health > max {
		c.health = max
	}
}

// numLive counts alive and suspect members, self included.
func (c *core) numLive() int {
	n := 0
	for _, m := range c.members {
		if m.State <= StateSuspect {
			n++
		}
	}
	return n
}

func (c *core) retransmitLimit() int {
	return c.cfg.RetransmitMult * int(math.Ceil(math.Log10(float64(c.numLive()+1))))
}

func (c *core) ready() (out []outPacket, ops []streamOp, events []Event) {
	out, ops, events = c.out, c.ops, c.events
	c.out, c.ops, c.events = nil, nil, nil
	return
}

func (c *core) emit(now time.Time, kind EventKind, m *member) {
	snap := m.Member
	snap.Meta = slices.Clone(m.Meta)
	c.events = append(c.events, Event{Kind: kind, Member: snap, At: now})
}

// observe detects a jump of the input clock (the process was paused, e.g.
// stopped or starved): time that passed while the node could not run must
// not count against the members it was judging, so local judgement deadlines
// move forward by the gap and local health drops to its worst value.
func (c *core) observe(now time.Time) {
	gap := now.Sub(c.lastNow)
	threshold := 2 * c.cfg.ProbeInterval
	if gap > threshold {
		if p := c.probe; p != nil {
			p.indirectAt = p.indirectAt.Add(gap)
			p.end = p.end.Add(gap)
		}
		for _, r := range c.relays {
			r.deadline = r.deadline.Add(gap)
		}
		for _, m := range c.members {
			if m.susp != nil {
				m.susp.start = m.susp.start.Add(gap)
			}
		}
		c.applyHealth(c.cfg.AwarenessMaxMultiplier)
	}
	if now.After(c.lastNow) {
		c.lastNow = now
	}
}

// nextDeadline is the earliest time at which tick has work to do.
func (c *core) nextDeadline() time.Time {
	if c.leaving {
		if c.queue.len() > 0 {
			return c.nextGossip
		}
		return c.lastNow.Add(time.Hour)
	}
	next := c.nextProbe
	min := func(t time.Time) {
		if !t.IsZero() && t.Before(next) {
			next = t
		}
	}
	if p := c.probe; p != nil {
		if !p.indirect {
			min(p.indirectAt)
		}
		min(p.end)
	}
	if c.queue.len() > 0 {
		min(c.nextGossip)
	}
	min(c.nextPushPull)
	min(c.nextReconnect)
	min(c.nextReap)
	for _, t := range c.settle {
		min(t)
	}
	for _, r := range c.relays {
		min(r.deadline)
	}
	for _, m := range c.members {
		if m.susp != nil {
			min(c.suspicionDeadline(m.susp))
		}
	}
	return next
}

func (c *core) suspicionDeadline(s *suspicion) time.Time {
	return s.start.Add(c.scale(s.timeout()))
}

// tick runs every timer that is due at now.
func (c *core) tick(now time.Time) {
	c.observe(now)
	if c.leaving {
		c.gossipIfDue(now)
		return
	}
	// Relays that timed out answer with a nack.
	for seq, r := range c.relays {
		if !now.Before(r.deadline) {
			if r.nack {
				c.sendPacket(r.replyTo, &pb.Packet{Nacks: []*pb.Nack{{Seq: r.origSeq}}})
			}
			delete(c.relays, seq)
		}
	}
	if p := c.probe; p != nil {
		if !p.indirect && !now.Before(p.indirectAt) {
			c.startIndirect(now, p)
		}
		if !now.Before(p.end) {
			c.concludeProbe(now, false)
		}
	}
	if c.probe == nil && !now.Before(c.nextProbe) {
		c.nextProbe = now.Add(c.scale(c.cfg.ProbeInterval))
		c.startProbe(now)
	}
	c.gossipIfDue(now)
	if c.cfg.PushPullInterval > 0 && !now.Before(c.nextPushPull) {
		c.nextPushPull = now.Add(c.pushPullInterval())
		c.pushPullRandom(now, false)
	}
	for i := 0; i < len(c.settle); {
		if !now.Before(c.settle[i]) {
			c.settle = slices.Delete(c.settle, i, i+1)
			c.pushPullRandom(now, false)
			continue
		}
		i++
	}
	if c.cfg.ReconnectInterval > 0 && !now.Before(c.nextReconnect) {
		c.nextReconnect = now.Add(c.cfg.ReconnectInterval)
		c.reconnect(now)
	}
	if !now.Before(c.nextReap) {
		c.nextReap = now.Add(time.Second)
		c.reap(now)
	}
	// Last, so that confirmations added above count at once.
	c.expireSuspicions(now)
}

// expireSuspicions declares dead the suspects whose timeout ran out.
func (c *core) expireSuspicions(now time.Time) {
	for _, m := range c.members {
		if m.susp != nil && m.State == StateSuspect && !now.Before(c.suspicionDeadline(m.susp)) {
			c.applyDead(now, &pb.Update{Kind: pb.Update_KIND_DEAD, Node: m.Name, Incarnation: m.Incarnation, From: c.self.Name})
		}
	}
}

// pushPullInterval grows logarithmically past 32 members, like memberlist,
// so that the full-state traffic per node stays flat as the cluster grows.
func (c *core) pushPullInterval() time.Duration {
	n := c.numLive()
	if n <= 32 {
		return c.cfg.PushPullInterval
	}
	mult := math.Ceil(math.Log2(float64(n))-math.Log2(32)) + 1
	return time.Duration(mult) * c.cfg.PushPullInterval
}

func (c *core) gossipIfDue(now time.Time) {
	if now.Before(c.nextGossip) {
		return
	}
	c.nextGossip = now.Add(c.cfg.GossipInterval)
	if c.queue.len() == 0 {
		return
	}
	targets := c.randomMembers(c.cfg.GossipNodes, func(m *member) bool {
		if m.State <= StateSuspect {
			return true
		}
		return m.State == StateDead && now.Sub(m.changed) < c.cfg.GossipToTheDeadTime
	})
	for _, m := range targets {
		pkt := &pb.Packet{}
		if c.piggyback(pkt) == 0 {
			break
		}
		c.out = append(c.out, outPacket{addr: m.Addr, pkt: pkt})
	}
}

// hurry schedules a gossip round soon: fresh news spreads at network speed
// instead of waiting for the next periodic round. Retransmit limits still
// bound what each update costs.
func (c *core) hurry(now time.Time) {
	t := now.Add(c.cfg.GossipInterval / 16)
	if t.Before(c.nextGossip) {
		c.nextGossip = t
	}
}

func (c *core) budget() int { return c.cfg.MTU - c.sealOverhead }

// piggyback fills pkt with queued updates; it returns the bytes added.
func (c *core) piggyback(pkt *pb.Packet) int {
	if c.queue.len() == 0 {
		return 0
	}
	return c.queue.fill(pkt, c.budget()-proto.Size(pkt), c.retransmitLimit())
}

func (c *core) sendPacket(addr string, pkt *pb.Packet) {
	c.piggyback(pkt)
	c.out = append(c.out, outPacket{addr: addr, pkt: pkt})
}

// randomMembers picks up to n distinct members (never self) accepted by ok.
func (c *core) randomMembers(n int, ok func(*member) bool) []*member {
	var cand []*member
	for _, m := range c.members {
		if m != c.self && ok(m) {
			cand = append(cand, m)
		}
	}
	// Map order is random but not seeded: sort for determinism.
	slices.SortFunc(cand, func(a, b *member) int { return cmpString(a.Name, b.Name) })
	if len(cand) <= n {
		c.rng.Shuffle(len(cand), func(i, j int) { cand[i], cand[j] = cand[j], cand[i] })
		return cand
	}
	for i := 0; i < n; i++ {
		j := i + c.rng.IntN(len(cand)-i)
		cand[i], cand[j] = cand[j], cand[i]
	}
	return cand[:n]
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// nextTarget returns the next member to probe: urgent suspects first, then
// a randomized round robin over the live members.
func (c *core) nextTarget() *member {
	for len(c.urgent) > 0 {
		name := c.urgent[0]
		c.urgent = c.urgent[1:]
		if m := c.members[name]; m != nil && m.State == StateSuspect {
			return m
		}
	}
	for pass := 0; pass < 2; pass++ {
		for c.orderIx < len(c.order) {
			m := c.members[c.order[c.orderIx]]
			c.orderIx++
			if m != nil && m != c.self && m.State <= StateSuspect {
				return m
			}
		}
		c.order = c.order[:0]
		for name, m := range c.members {
			if m != c.self && m.State <= StateSuspect {
				c.order = append(c.order, name)
			}
		}
		slices.Sort(c.order)
		c.rng.Shuffle(len(c.order), func(i, j int) { c.order[i], c.order[j] = c.order[j], c.order[i] })
		c.orderIx = 0
	}
	return nil
}

func (c *core) startProbe(now time.Time) {
	m := c.nextTarget()
	if m == nil {
		return
	}
	c.seq++
	c.stats.probes++
	c.probe = &probe{
		seq:        c.seq,
		target:     m.Name,
		addr:       m.Addr,
		indirectAt: now.Add(c.scale(c.cfg.ProbeTimeout)),
		end:        now.Add(c.scale(c.cfg.ProbeInterval)),
	}
	ping := &pb.Ping{Seq: c.seq, Target: m.Name}
	if m.State == StateSuspect {
		ping.Suspected, ping.Incarnation = true, m.Incarnation
	}
	c.sendPacket(m.Addr, &pb.Packet{Pings: []*pb.Ping{ping}})
}

func (c *core) startIndirect(now time.Time, p *probe) {
	p.indirect = true
	helpers := c.randomMembers(c.cfg.IndirectChecks, func(m *member) bool {
		return m.State == StateAlive && m.Name != p.target
	})
	for _, h := range helpers {
		p.expNacks++
		c.sendPacket(h.Addr, &pb.Packet{IndirectPings: []*pb.IndirectPing{{
			Seq: p.seq, Target: p.target, TargetAddr: p.addr, Nack: true,
		}}})
	}
	if !c.cfg.DisableStreamProbe {
		// The stream result must come back before the probe ends.
		dl := p.end.Add(-p.end.Sub(now) / 5)
		c.ops = append(c.ops, streamOp{kind: opProbe, addr: p.addr, target: p.target, seq: p.seq, deadline: dl})
	}
}

func (c *core) concludeProbe(now time.Time, ok bool) {
	p := c.probe
	c.probe = nil
	if ok {
		c.applyHealth(-1)
		return
	}
	c.stats.probeFailures++
	delta := 1
	if p.expNacks > 0 {
		delta = p.expNacks - p.nacks
	}
	c.applyHealth(delta)
	m := c.members[p.target]
	if m == nil || m.State > StateSuspect {
		return
	}
	c.applySuspect(now, &pb.Update{
		Kind: pb.Update_KIND_SUSPECT, Node: m.Name, Incarnation: m.Incarnation,
		From: c.self.Name, Unreachable: p.stream == probeUnreachable, Connected: p.stream == probeNoReply,
	})
}

// streamProbeResult reports the outcome of an opProbe.
func (c *core) streamProbeResult(now time.Time, seq uint64, r probeResult) {
	c.observe(now)
	p := c.probe
	if p == nil || p.seq != seq {
		return
	}
	if r == probeAcked {
		c.concludeProbe(now, true)
		return
	}
	p.stream = r
}

// stepPacket processes one decoded datagram from addr.
func (c *core) stepPacket(now time.Time, from string, pkt *pb.Packet) {
	c.observe(now)
	for _, u := range pkt.GetUpdates() {
		c.applyUpdate(now, u)
	}
	for _, um := range pkt.GetUserMessages() {
		c.applyUser(now, um)
	}
	if c.leaving {
		return
	}
	for _, ping := range pkt.GetPings() {
		if ping.GetTarget() != c.self.Name {
			continue
		}
		if ping.GetSuspected() && ping.GetIncarnation() >= c.self.Incarnation {
			c.refute(now, ping.GetIncarnation())
		}
		c.sendPacket(from, &pb.Packet{Acks: []*pb.Ack{{Seq: ping.GetSeq()}}})
	}
	for _, ip := range pkt.GetIndirectPings() {
		if ip.GetTarget() == "" || ip.GetTargetAddr() == "" || len(c.relays) >= 1024 {
			continue
		}
		c.seq++
		// The nack must reach the requester before its probe ends, which is
		// ProbeInterval-ProbeTimeout after it asked (more if it is unhealthy).
		wait := min(c.cfg.ProbeTimeout, c.cfg.ProbeInterval-c.cfg.ProbeTimeout) * 4 / 5
		c.relays[c.seq] = &relay{origSeq: ip.GetSeq(), replyTo: from, deadline: now.Add(wait), nack: ip.GetNack()}
		ping := &pb.Ping{Seq: c.seq, Target: ip.GetTarget()}
		if m := c.members[ip.GetTarget()]; m != nil && m.State == StateSuspect {
			ping.Suspected, ping.Incarnation = true, m.Incarnation
		}
		c.sendPacket(ip.GetTargetAddr(), &pb.Packet{Pings: []*pb.Ping{ping}})
	}
	for _, ack := range pkt.GetAcks() {
		if p := c.probe; p != nil && p.seq == ack.GetSeq() {
			c.concludeProbe(now, true)
			continue
		}
		if r, ok := c.relays[ack.GetSeq()]; ok {
			delete(c.relays, ack.GetSeq())
			c.sendPacket(r.replyTo, &pb.Packet{Acks: []*pb.Ack{{Seq: r.origSeq}}})
		}
	}
	for _, nack := range pkt.GetNacks() {
		if p := c.probe; p != nil && p.seq == nack.GetSeq() {
			p.nacks++
		}
	}
}

// streamPing answers a fallback probe received over a stream.
func (c *core) streamPing(now time.Time, ping *pb.Ping) *pb.Ack {
	c.observe(now)
	if c.leaving || ping.GetTarget() != c.self.Name {
		return nil
	}
	if ping.GetSuspected() && ping.GetIncarnation() >= c.self.Incarnation {
		c.refute(now, ping.GetIncarnation())
	}
	return &pb.Ack{Seq: ping.GetSeq()}
}

func (c *core) applyUpdate(now time.Time, u *pb.Update) {
	if u.GetNode() == "" || len(u.GetNode()) > 255 {
		return
	}
	switch u.GetKind() {
	case pb.Update_KIND_ALIVE:
		c.applyAlive(now, u)
	case pb.Update_KIND_SUSPECT:
		c.applySuspect(now, u)
	case pb.Update_KIND_DEAD, pb.Update_KIND_LEFT:
		c.applyDead(now, u)
	}
}

func (c *core) broadcast(now time.Time, u *pb.Update) {
	c.queue.push("m:"+u.GetNode(), u, nil)
	c.hurry(now)
}

func (c *core) aliveUpdate(m *member) *pb.Update {
	return &pb.Update{Kind: pb.Update_KIND_ALIVE, Node: m.Name, Incarnation: m.Incarnation, Addr: m.Addr, Meta: m.Meta}
}

// refute raises the local incarnation above inc and announces it.
func (c *core) refute(now time.Time, inc uint64) {
	if c.leaving {
		return
	}
	if inc >= c.self.Incarnation {
		c.self.Incarnation = inc + 1
	}
	c.stats.refutes++
	c.applyHealth(1)
	c.broadcast(now, c.aliveUpdate(c.self))
}

func (c *core) applyAlive(now time.Time, u *pb.Update) {
	if len(u.GetMeta()) > c.cfg.MetaMaxSize || u.GetAddr() == "" {
		return
	}
	name, inc := u.GetNode(), u.GetIncarnation()
	if name == c.self.Name {
		// Someone claims our name with state that is not ours: refute.
		if inc >= c.self.Incarnation && (u.GetAddr() != c.self.Addr || !bytes.Equal(u.GetMeta(), c.self.Meta)) && !c.leaving {
			c.refute(now, inc)
		}
		return
	}
	m := c.members[name]
	if m == nil {
		m = &member{Member: Member{Name: name, Addr: u.GetAddr(), Meta: slices.Clone(u.GetMeta()), Incarnation: inc, State: StateAlive}, changed: now}
		c.members[name] = m
		// Insert into the probe order at a random place.
		pos := 0
		if n := len(c.order) - c.orderIx; n > 0 {
			pos = c.orderIx + c.rng.IntN(n+1)
		} else {
			pos = len(c.order)
		}
		c.order = slices.Insert(c.order, pos, name)
		c.emit(now, EventJoin, m)
		c.broadcast(now, u)
		return
	}
	if inc <= m.Incarnation {
		return
	}
	wasLive := m.State <= StateSuspect
	changed := m.Addr != u.GetAddr() || !bytes.Equal(m.Meta, u.GetMeta())
	m.Incarnation = inc
	m.Addr = u.GetAddr()
	m.Meta = slices.Clone(u.GetMeta())
	m.susp = nil
	if m.State != StateAlive {
		m.State = StateAlive
		m.changed = now
	}
	switch {
	case !wasLive:
		c.emit(now, EventJoin, m)
	case changed:
		c.emit(now, EventUpdate, m)
	}
	c.broadcast(now, u)
}

func (c *core) applySuspect(now time.Time, u *pb.Update) {
	name, inc := u.GetNode(), u.GetIncarnation()
	if name == c.self.Name {
		if inc >= c.self.Incarnation {
			c.refute(now, inc)
		}
		return
	}
	m := c.members[name]
	if m == nil || inc < m.Incarnation || m.State > StateSuspect {
		return
	}
	from := u.GetFrom()
	if from == "" {
		from = "?"
	}
	if m.State == StateSuspect && inc == m.Incarnation && m.susp != nil {
		prev, ok := m.susp.confirmers[from]
		if ok && prev >= evidenceOf(u) || !ok && len(m.susp.confirmers) >= 64 {
			return // nothing new (or enough accusers already)
		}
		m.susp.confirmers[from] = evidenceOf(u)
		if u.GetUnreachable() && from != c.self.Name && !slices.Contains(c.urgent, name) {
			if _, mine := m.susp.confirmers[c.self.Name]; !mine {
				c.urgent = append(c.urgent, name)
				c.expedite(now)
			}
		}
		c.broadcast(now, u) // let others count this confirmation too
		return
	}
	n := c.numLive()
	minT := suspicionMin(c.cfg.SuspicionMult, n, c.cfg.ProbeInterval)
	k := c.cfg.SuspicionMult - 2
	if k > n-2 {
		k = n - 2
	}
	if k < 0 {
		k = 0
	}
	m.State = StateSuspect
	m.Incarnation = inc
	m.changed = now
	m.susp = &suspicion{
		start:       now,
		confirmers:  map[string]evidence{from: evidenceOf(u)},
		k:           k,
		min:         minT,
		max:         time.Duration(c.cfg.SuspicionMaxTimeoutMult) * minT,
		unreachable: c.cfg.UnreachableSuspicionTimeout,
	}
	c.stats.suspicions++
	if from != c.self.Name && u.GetUnreachable() {
		// The accuser could not even connect: check it ourselves next, so
		// that independent confirmations (or a refutation) come quickly.
		// A member that accepts connections but does not answer may just be
		// paused; it gets the full Lifeguard timeout at the usual pace.
		c.urgent = append(c.urgent, name)
		c.expedite(now)
	}
	c.broadcast(now, u)
}

// expedite moves the next probe forward to now (or to the end of the probe
// in flight). The probe rhythm shifts; no probe is added.
func (c *core) expedite(now time.Time) {
	at := now
	if c.probe != nil {
		at = c.probe.end
	}
	if at.Before(c.nextProbe) {
		c.nextProbe = at
	}
}

func suspicionMin(mult, n int, interval time.Duration) time.Duration {
	scale := math.Max(1, math.Log10(math.Max(1, float64(n))))
	return time.Duration(float64(mult) * scale * float64(interval))
}

func (c *core) applyDead(now time.Time, u *pb.Update) {
	name, inc := u.GetNode(), u.GetIncarnation()
	left := u.GetKind() == pb.Update_KIND_LEFT
	if name == c.self.Name {
		if !c.leaving && inc >= c.self.Incarnation {
			c.refute(now, inc)
		}
		return
	}
	m := c.members[name]
	if m == nil || inc < m.Incarnation || m.State > StateSuspect {
		return
	}
	m.Incarnation = inc
	m.susp = nil
	m.changed = now
	if left {
		m.State = StateLeft
		c.emit(now, EventLeave, m)
	} else {
		m.State = StateDead
		c.emit(now, EventFail, m)
	}
	c.broadcast(now, u)
}

func (c *core) applyUser(now time.Time, um *pb.UserMessage) {
	if um.GetOrigin() == c.self.Name || um.GetOrigin() == "" {
		return
	}
	key := um.GetOrigin() + "\x00" + string(binary.BigEndian.AppendUint64(nil, um.GetId()))
	if _, ok := c.seenUser[key]; ok {
		return
	}
	c.seenUser[key] = struct{}{}
	c.seenFIFO = append(c.seenFIFO, key)
	if len(c.seenFIFO) > 4096 {
		delete(c.seenUser, c.seenFIFO[0])
		c.seenFIFO = c.seenFIFO[1:]
	}
	c.events = append(c.events, Event{Kind: EventMessage, Member: Member{Name: um.GetOrigin()}, Payload: slices.Clone(um.GetPayload()), At: now})
	c.queue.push("u:"+key, nil, um)
	c.hurry(now)
}

// userBroadcast queues an application message for gossip.
func (c *core) userBroadcast(now time.Time, payload []byte) error {
	c.userSeq++
	um := &pb.UserMessage{Origin: c.self.Name, Id: c.userSeq, Payload: slices.Clone(payload)}
	if fieldSize(um)+8 > c.budget() {
		return ErrMessageTooLarge
	}
	c.queue.push("u:"+um.Origin+"\x00"+string(binary.BigEndian.AppendUint64(nil, um.Id)), nil, um)
	c.hurry(now)
	return nil
}

func (c *core) updateMeta(now time.Time, meta []byte) error {
	if len(meta) > c.cfg.MetaMaxSize {
		return ErrMetaTooLarge
	}
	if c.leaving {
		return ErrLeft
	}
	c.self.Meta = slices.Clone(meta)
	c.self.Incarnation++
	c.emit(now, EventUpdate, c.self)
	c.broadcast(now, c.aliveUpdate(c.self))
	return nil
}

// leave marks the local node as left and queues the announcement.
func (c *core) leave(now time.Time) {
	if c.leaving {
		return
	}
	c.leaving = true
	c.probe = nil
	c.self.State = StateLeft
	c.self.changed = now
	c.broadcast(now, &pb.Update{Kind: pb.Update_KIND_LEFT, Node: c.self.Name, Incarnation: c.self.Incarnation, From: c.self.Name})
	c.nextGossip = now
}

// leaveSpread reports whether the leave announcement was sent at least n
// times (or dropped from the queue after its retransmit limit).
func (c *core) leaveSpread(n int) bool {
	it, ok := c.queue.byKey["m:"+c.self.Name]
	return !ok || it.upd.GetKind() != pb.Update_KIND_LEFT || it.transmits >= n
}

func (c *core) pushPullRandom(now time.Time, join bool) {
	ms := c.randomMembers(1, func(m *member) bool { return m.State == StateAlive })
	if len(ms) == 0 {
		return
	}
	c.ops = append(c.ops, streamOp{kind: opPushPull, addr: ms[0].Addr, join: join, deadline: now.Add(c.cfg.StreamTimeout)})
}

// reconnect tries to merge with a dead member and a seed while any member
// is dead, so that the halves of a healed partition find each other.
func (c *core) reconnect(now time.Time) {
	dead := c.randomMembers(1, func(m *member) bool { return m.State == StateDead })
	if len(dead) == 0 {
		return
	}
	c.ops = append(c.ops, streamOp{kind: opPushPull, addr: dead[0].Addr, join: true, deadline: now.Add(c.cfg.StreamTimeout)})
	if len(c.seeds) > 0 {
		// A seed that is a live member is already merged with us; seeds
		// given as host names cannot be matched and are always tried.
		seed := c.seeds[c.rng.IntN(len(c.seeds))]
		liveSeed := false
		for _, m := range c.members {
			if m.Addr == seed && m.State <= StateSuspect {
				liveSeed = true
				break
			}
		}
		if !liveSeed && seed != dead[0].Addr {
			c.ops = append(c.ops, streamOp{kind: opPushPull, addr: seed, join: true, seed: true, deadline: now.Add(c.cfg.StreamTimeout)})
		}
	}
}

func (c *core) reap(now time.Time) {
	for name, m := range c.members {
		if m.State >= StateDead && m != c.self && now.Sub(m.changed) >= c.cfg.DeadRetention {
			delete(c.members, name)
			if m.susp != nil {
				m.susp = nil
			}
		}
	}
	if len(c.order) > 2*len(c.members)+16 {
		c.order = slices.DeleteFunc(c.order, func(n string) bool { return c.members[n] == nil })
		c.orderIx = min(c.orderIx, len(c.order))
	}
}

// joined records seeds and schedules two early push-pulls that repair any
// update the join burst lost, so a bootstrap has no long tail.
func (c *core) joined(now time.Time, seeds []string) {
	c.seeds = slices.Clone(seeds)
	c.settle = append(c.settle[:0], now.Add(c.cfg.ProbeInterval), now.Add(3*c.cfg.ProbeInterval))
}

// localState lists every remembered member, self first.
func (c *core) localState() []*pb.Update {
	out := make([]*pb.Update, 0, len(c.members))
	out = append(out, c.stateOf(c.self))
	names := make([]string, 0, len(c.members))
	for name := range c.members {
		if name != c.self.Name {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		out = append(out, c.stateOf(c.members[n]))
	}
	return out
}

func (c *core) stateOf(m *member) *pb.Update {
	u := &pb.Update{Node: m.Name, Incarnation: m.Incarnation, Addr: m.Addr, Meta: m.Meta}
	switch m.State {
	case StateAlive:
		u.Kind = pb.Update_KIND_ALIVE
	case StateSuspect:
		u.Kind = pb.Update_KIND_SUSPECT
	case StateDead:
		u.Kind = pb.Update_KIND_DEAD
	case StateLeft:
		u.Kind = pb.Update_KIND_LEFT
	}
	return u
}

// mergeState merges a remote full state. A remote "dead" only makes the
// member suspect here: the member gets the chance to refute, as in
// memberlist.
func (c *core) mergeState(now time.Time, from string, state []*pb.Update) {
	c.observe(now)
	for _, u := range state {
		if u.GetNode() == "" || len(u.GetNode()) > 255 {
			continue
		}
		switch u.GetKind() {
		case pb.Update_KIND_ALIVE:
			c.applyAlive(now, u)
		case pb.Update_KIND_SUSPECT, pb.Update_KIND_DEAD:
			unknown := c.members[u.GetNode()] == nil && u.GetNode() != c.self.Name
			if unknown && u.GetKind() == pb.Update_KIND_DEAD {
				continue // forgotten or never seen: do not resurrect it
			}
			// The remote state of a suspect we do not know carries its
			// address: learn it as alive first, then suspect it.
			if unknown {
				a := proto.Clone(u).(*pb.Update)
				a.Kind = pb.Update_KIND_ALIVE
				c.applyAlive(now, a)
			}
			c.applySuspect(now, &pb.Update{Kind: pb.Update_KIND_SUSPECT, Node: u.GetNode(), Incarnation: u.GetIncarnation(), From: from})
		case pb.Update_KIND_LEFT:
			c.applyDead(now, u)
		}
	}
}

// pushPullRequest is the initiator's first frame.
func (c *core) pushPullRequest(join bool) *pb.StreamFrame {
	f := &pb.StreamFrame{From: c.self.Name, Join: join, Checksum: c.checksum()}
	if join {
		f.Members = c.localState()
	}
	return f
}

// handlePushPull is the responder's answer to a push-pull request.
func (c *core) handlePushPull(now time.Time, req *pb.StreamFrame) *pb.StreamFrame {
	c.observe(now)
	if req.GetJoin() {
		c.mergeState(now, req.GetFrom(), req.GetMembers())
		return &pb.StreamFrame{From: c.self.Name, Checksum: c.checksum(), Members: c.localState()}
	}
	sum := c.checksum()
	if req.GetChecksum() == sum {
		return &pb.StreamFrame{From: c.self.Name, Checksum: sum, InSync: true}
	}
	return &pb.StreamFrame{From: c.self.Name, Checksum: sum, Members: c.localState(), WantState: true}
}

// checksum hashes the live part of the member table (name, address,
// metadata, incarnation, sorted by name). Two members with equal checksums
// agree on who is alive and with which metadata.
func (c *core) checksum() uint64 {
	names := make([]string, 0, len(c.members))
	for name, m := range c.members {
		if m.State <= StateSuspect {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	h := fnv.New64a()
	var buf [8]byte
	for _, n := range names {
		m := c.members[n]
		binary.BigEndian.PutUint64(buf[:], uint64(len(n)))
		h.Write(buf[:])
		h.Write([]byte(n))
		binary.BigEndian.PutUint64(buf[:], uint64(len(m.Addr)))
		h.Write(buf[:])
		h.Write([]byte(m.Addr))
		binary.BigEndian.PutUint64(buf[:], uint64(len(m.Meta)))
		h.Write(buf[:])
		h.Write(m.Meta)
		binary.BigEndian.PutUint64(buf[:], m.Incarnation)
		h.Write(buf[:])
	}
	return h.Sum64()
}

func (c *core) snapshot() []Member {
	out := make([]Member, 0, len(c.members))
	for _, m := range c.members {
		s := m.Member
		s.Meta = slices.Clone(m.Meta)
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Member) int { return cmpString(a.Name, b.Name) })
	return out
}
