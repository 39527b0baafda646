package swim

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	pb "github.com/gridkv/gridkv/swim/internal/swimpb"
)

// Node is one member of a cluster: the protocol core driven by a
// Transport, a clock and four goroutines (packets, streams, timers, events),
// all stopped by Shutdown.
type Node struct {
	cfg   Config
	clock Clock
	tr    Transport
	codec codec

	mu          sync.Mutex // guards c and leaveClosed
	c           *core
	leaveDone   chan struct{}
	leaveClosed bool

	next     atomic.Int64 // core's next deadline, unix nanos
	wake     chan struct{}
	shutdown chan struct{}
	ctx      context.Context // cancelled by Shutdown
	cancel   context.CancelFunc
	closed   atomic.Bool
	once     sync.Once
	wg       sync.WaitGroup
	streams  chan struct{} // semaphore over concurrent streams

	connMu sync.Mutex
	conns  map[net.Conn]struct{}

	evMu     sync.Mutex
	evQueue  []Event
	evSignal chan struct{}

	stats nodeStats
}

type nodeStats struct {
	packetsSent, packetsReceived, bytesSent, bytesReceived  atomic.Uint64
	badPackets, authFailures, eventsDropped, streamsRefused atomic.Uint64
}

// Stats are counters since Create.
type Stats struct {
	PacketsSent, PacketsReceived uint64
	BytesSent, BytesReceived     uint64
	// BadPackets could not be decoded; AuthFailures failed authentication
	// or carried another label. Both are dropped.
	BadPackets, AuthFailures uint64
	// EventsDropped overflowed Config.EventQueueSize.
	EventsDropped uint64
	// StreamsRefused were refused because MaxConcurrentStreams were busy.
	StreamsRefused uint64
	// Probes started, ProbeFailures (probes that led to a suspicion),
	// Refutes of suspicions about this node, Suspicions started here.
	Probes, ProbeFailures, Refutes, Suspicions uint64
	// Health is the current local health score (0 is healthy).
	Health int
}

// Create validates cfg, starts a node that knows only itself, and returns
// it. The node owns cfg.Transport and closes it on Shutdown.
func Create(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Node{
		cfg:       cfg,
		clock:     cfg.Clock,
		tr:        cfg.Transport,
		codec:     codec{keyring: cfg.Keyring, label: []byte(cfg.Label)},
		leaveDone: make(chan struct{}),
		wake:      make(chan struct{}, 1),
		shutdown:  make(chan struct{}),
		streams:   make(chan struct{}, cfg.MaxConcurrentStreams),
		conns:     make(map[net.Conn]struct{}),
		evSignal:  make(chan struct{}, 1),
	}
	n.cfg.Meta = slices.Clone(cfg.Meta)
	n.ctx, n.cancel = context.WithCancel(context.Background())
	if n.clock == nil {
		n.clock = SystemClock()
	}
	seed := cfg.RandSeed
	if seed == 0 {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			n.cancel()
			return nil, err
		}
		seed = binary.LittleEndian.Uint64(b[:])
	}
	n.c = newCore(&n.cfg, n.tr.Addr(), n.clock.Now(), seed, n.codec.overhead())
	n.wg.Add(4)
	go n.packetLoop()
	go n.streamLoop()
	go n.timerLoop()
	go n.eventLoop()
	n.with(func(time.Time) {})
	return n, nil
}

// with runs fn on the core under the lock, then performs its outputs.
func (n *Node) with(fn func(now time.Time)) {
	n.mu.Lock()
	now := n.clock.Now()
	fn(now)
	out, ops, evs := n.c.ready()
	next := n.c.nextDeadline()
	leaveSent := false
	if n.c.leaving && !n.leaveClosed && (n.c.leaveSpread(n.cfg.GossipNodes) || n.c.numLive() == 0) {
		n.leaveClosed, leaveSent = true, true
	}
	n.mu.Unlock()
	for _, o := range out {
		n.sendPacket(o)
	}
	if leaveSent {
		// Only now are the announcements on the wire: Leave may return.
		close(n.leaveDone)
	}
	for _, op := range ops {
		n.startOp(op)
	}
	if len(evs) > 0 {
		n.queueEvents(evs)
	}
	if old := n.next.Swap(next.UnixNano()); next.UnixNano() < old {
		select {
		case n.wake <- struct{}{}:
		default:
		}
	}
}

func (n *Node) sendPacket(o outPacket) {
	b, err := n.codec.encodePacket(o.pkt)
	if err != nil {
		return
	}
	if err := n.tr.WritePacket(b, o.addr); err != nil {
		return
	}
	n.stats.packetsSent.Add(1)
	n.stats.bytesSent.Add(uint64(len(b)))
}

func (n *Node) packetLoop() {
	defer n.wg.Done()
	for p := range n.tr.Packets() {
		n.stats.packetsReceived.Add(1)
		n.stats.bytesReceived.Add(uint64(len(p.Data)))
		pkt, err := n.codec.decodePacket(p.Data, n.cfg.MTU)
		if err != nil {
			if errors.Is(err, ErrAuth) {
				n.stats.authFailures.Add(1)
			} else {
				n.stats.badPackets.Add(1)
			}
			continue
		}
		n.with(func(now time.Time) { n.c.stepPacket(now, p.From, pkt) })
	}
}

func (n *Node) timerLoop() {
	defer n.wg.Done()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-n.shutdown:
			return
		case <-n.wake:
		case <-timer.C:
			n.with(n.c.tick)
		}
		d := time.Duration(n.next.Load() - n.clock.Now().UnixNano())
		d = max(min(d, time.Second), time.Millisecond)
		timer.Reset(d)
	}
}

func (n *Node) queueEvents(evs []Event) {
	n.evMu.Lock()
	room := n.cfg.EventQueueSize - len(n.evQueue)
	if room < len(evs) {
		n.stats.eventsDropped.Add(uint64(len(evs) - max(room, 0)))
		evs = evs[:max(room, 0)]
	}
	n.evQueue = append(n.evQueue, evs...)
	n.evMu.Unlock()
	select {
	case n.evSignal <- struct{}{}:
	default:
	}
}

func (n *Node) eventLoop() {
	defer n.wg.Done()
	for {
		select {
		case <-n.shutdown:
			return
		case <-n.evSignal:
		}
		for {
			n.evMu.Lock()
			if len(n.evQueue) == 0 {
				n.evMu.Unlock()
				break
			}
			e := n.evQueue[0]
			n.evQueue[0] = Event{}
			n.evQueue = n.evQueue[1:]
			n.evMu.Unlock()
			switch {
			case n.cfg.EventDelegate != nil:
				n.cfg.EventDelegate.HandleEvent(e)
			case n.cfg.Events != nil:
				select {
				case n.cfg.Events <- e:
				case <-n.shutdown:
					return
				}
			}
		}
	}
}

func (n *Node) track(c net.Conn) bool {
	n.connMu.Lock()
	defer n.connMu.Unlock()
	if n.closed.Load() {
		return false
	}
	n.conns[c] = struct{}{}
	return true
}

func (n *Node) untrack(c net.Conn) {
	n.connMu.Lock()
	delete(n.conns, c)
	n.connMu.Unlock()
	c.Close()
}

// acquire takes a stream slot and registers a goroutine; false if the node
// is shutting down or all slots are busy.
func (n *Node) acquire() bool {
	n.connMu.Lock()
	defer n.connMu.Unlock()
	if n.closed.Load() {
		return false
	}
	select {
	case n.streams <- struct{}{}:
		n.wg.Add(1)
		return true
	default:
		n.stats.streamsRefused.Add(1)
		return false
	}
}

// acquireWait is acquire for served streams: it waits for a free slot (the
// transport's accept backlog absorbs a burst of joins meanwhile).
func (n *Node) acquireWait() bool {
	select {
	case n.streams <- struct{}{}:
	case <-n.shutdown:
		return false
	}
	n.connMu.Lock()
	defer n.connMu.Unlock()
	if n.closed.Load() {
		<-n.streams
		return false
	}
	n.wg.Add(1)
	return true
}

func (n *Node) release() {
	<-n.streams
	n.wg.Done()
}

func (n *Node) streamLoop() {
	defer n.wg.Done()
	for conn := range n.tr.Streams() {
		if !n.acquireWait() {
			conn.Close()
			continue
		}
		go func() {
			defer n.release()
			n.serveStream(conn)
		}()
	}
}

func (n *Node) serveStream(conn net.Conn) {
	if !n.track(conn) {
		conn.Close()
		return
	}
	defer n.untrack(conn)
	conn.SetDeadline(time.Now().Add(n.cfg.StreamTimeout))
	f, err := n.codec.readFrame(conn, n.cfg.MaxStreamFrame)
	if err != nil {
		n.countErr(err)
		return
	}
	if f.Ping != nil {
		var ack *pb.Ack
		n.with(func(now time.Time) { ack = n.c.streamPing(now, f.Ping) })
		if ack != nil {
			n.codec.writeFrame(conn, &pb.StreamFrame{Ack: ack}, n.cfg.MaxStreamFrame)
		}
		return
	}
	var resp *pb.StreamFrame
	n.with(func(now time.Time) { resp = n.c.handlePushPull(now, f) })
	if err := n.codec.writeFrame(conn, resp, n.cfg.MaxStreamFrame); err != nil || !resp.WantState {
		return
	}
	st, err := n.codec.readFrame(conn, n.cfg.MaxStreamFrame)
	if err != nil {
		n.countErr(err)
		return
	}
	n.with(func(now time.Time) { n.c.mergeState(now, f.GetFrom(), st.GetMembers()) })
}

func (n *Node) countErr(err error) {
	switch {
	case errors.Is(err, ErrAuth):
		n.stats.authFailures.Add(1)
	case errors.Is(err, ErrBadPacket):
		n.stats.badPackets.Add(1)
	}
}

func (n *Node) startOp(op streamOp) {
	if !n.acquire() {
		return
	}
	go func() {
		defer n.release()
		ctx, cancel := context.WithDeadline(n.ctx, op.deadline)
		defer cancel()
		switch op.kind {
		case opProbe:
			r := n.streamProbe(ctx, op)
			n.with(func(now time.Time) { n.c.streamProbeResult(now, op.seq, r) })
		case opPushPull:
			if op.seed {
				n.pushPull(ctx, op.addr, op.join)
			} else {
				// Member addresses come from transports: never resolve them.
				n.pushPullOnce(ctx, op.addr, op.join)
			}
		}
	}()
}

func (n *Node) streamProbe(ctx context.Context, op streamOp) probeResult {
	conn, err := n.tr.DialStream(ctx, op.addr)
	if err != nil {
		return probeUnreachable
	}
	if !n.track(conn) {
		conn.Close()
		return probeNoReply
	}
	defer n.untrack(conn)
	conn.SetDeadline(op.deadline)
	ping := &pb.Ping{Seq: op.seq, Target: op.target}
	if err := n.codec.writeFrame(conn, &pb.StreamFrame{Ping: ping}, n.cfg.MaxStreamFrame); err != nil {
		return probeNoReply
	}
	f, err := n.codec.readFrame(conn, n.cfg.MaxStreamFrame)
	if err != nil || f.GetAck().GetSeq() != op.seq {
		return probeNoReply
	}
	return probeAcked
}

// resolve turns "host:port" into addresses, resolving host names on every
// call (so DNS seeds that move are followed). Addresses that are not
// host:port (such as MemNetwork names) are returned as they are.
func resolve(ctx context.Context, addr string) []string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || net.ParseIP(host) != nil {
		return []string{addr}
	}
	ips, err := net.DefaultResolver.LookupHost(ctx, host)
	if err != nil || len(ips) == 0 {
		return []string{addr}
	}
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = net.JoinHostPort(ip, port)
	}
	return out
}

// pushPull exchanges state with the member at addr.
func (n *Node) pushPull(ctx context.Context, addr string, join bool) error {
	var errs []error
	for _, a := range resolve(ctx, addr) {
		if a == n.tr.Addr() {
			continue
		}
		err := n.pushPullOnce(ctx, a, join)
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return fmt.Errorf("%w: %s is this node", ErrUnreachable, addr)
	}
	return errors.Join(errs...)
}

func (n *Node) pushPullOnce(ctx context.Context, addr string, join bool) error {
	conn, err := n.tr.DialStream(ctx, addr)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrUnreachable, addr, err)
	}
	if !n.track(conn) {
		conn.Close()
		return ErrShutdown
	}
	defer n.untrack(conn)
	dl := time.Now().Add(n.cfg.StreamTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	conn.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	n.mu.Lock()
	req := n.c.pushPullRequest(join)
	n.mu.Unlock()
	if err := n.codec.writeFrame(conn, req, n.cfg.MaxStreamFrame); err != nil {
		return fmt.Errorf("push-pull with %s: %w", addr, err)
	}
	resp, err := n.codec.readFrame(conn, n.cfg.MaxStreamFrame)
	if err != nil {
		n.countErr(err)
		return fmt.Errorf("push-pull with %s: %w", addr, err)
	}
	if resp.GetInSync() {
		return nil
	}
	var st []*pb.Update
	n.with(func(now time.Time) {
		n.c.mergeState(now, resp.GetFrom(), resp.GetMembers())
		if resp.GetWantState() {
			st = n.c.localState()
		}
	})
	if resp.GetWantState() {
		if err := n.codec.writeFrame(conn, &pb.StreamFrame{From: n.cfg.Name, Members: st}, n.cfg.MaxStreamFrame); err != nil {
			return fmt.Errorf("push-pull with %s: %w", addr, err)
		}
	}
	return nil
}

// Join contacts every seed ("host:port"; host names are resolved on each
// attempt) and merges state with those that answer. It returns how many
// answered; ErrJoinFailed (wrapping each seed's error) if none did. The seeds
// are remembered for reconnecting after a partition.
func (n *Node) Join(ctx context.Context, seeds []string) (int, error) {
	if n.closed.Load() {
		return 0, ErrShutdown
	}
	if len(seeds) == 0 {
		return 0, ErrNoSeeds
	}
	ok := 0
	var errs []error
	for _, s := range seeds {
		if err := n.pushPull(ctx, s, true); err != nil {
			errs = append(errs, err)
			continue
		}
		ok++
	}
	n.with(func(now time.Time) { n.c.joined(now, seeds) })
	if ok == 0 {
		return 0, fmt.Errorf("%w: %w", ErrJoinFailed, errors.Join(errs...))
	}
	return ok, nil
}

// Leave announces a graceful departure and waits until the announcement was
// gossiped to GossipNodes members (or ctx ends). Others see EventLeave, not
// EventFail. Call Shutdown afterwards.
func (n *Node) Leave(ctx context.Context) error {
	if n.closed.Load() {
		return ErrShutdown
	}
	n.with(n.c.leave)
	select {
	case <-n.leaveDone:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-n.shutdown:
		return ErrShutdown
	}
}

// Shutdown stops every goroutine of the node and closes its transport,
// without telling anyone (others will detect a failure; call Leave first
// for a graceful exit). It is idempotent.
func (n *Node) Shutdown() error {
	var err error
	n.once.Do(func() {
		n.connMu.Lock()
		n.closed.Store(true)
		for c := range n.conns {
			c.Close()
		}
		n.connMu.Unlock()
		close(n.shutdown)
		n.cancel()
		err = n.tr.Close()
		n.wg.Wait()
	})
	return err
}

// Members returns the members that are alive or suspect (self included),
// sorted by name.
func (n *Node) Members() []Member {
	all := n.AllMembers()
	return slices.DeleteFunc(all, func(m Member) bool { return m.State > StateSuspect })
}

// AllMembers returns every remembered member, dead and left ones included.
func (n *Node) AllMembers() []Member {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.c.snapshot()
}

// NumMembers counts alive and suspect members, self included.
func (n *Node) NumMembers() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.c.numLive()
}

// LocalNode returns the local member.
func (n *Node) LocalNode() Member {
	n.mu.Lock()
	defer n.mu.Unlock()
	m := n.c.self.Member
	m.Meta = slices.Clone(m.Meta)
	return m
}

// UpdateMeta publishes new metadata (raising the incarnation).
func (n *Node) UpdateMeta(meta []byte) error {
	if n.closed.Load() {
		return ErrShutdown
	}
	var err error
	n.with(func(now time.Time) { err = n.c.updateMeta(now, meta) })
	return err
}

// Broadcast gossips an application message to every member, which receive
// it once as EventMessage. It must fit one packet (ErrMessageTooLarge).
func (n *Node) Broadcast(msg []byte) error {
	if n.closed.Load() {
		return ErrShutdown
	}
	var err error
	n.with(func(now time.Time) { err = n.c.userBroadcast(now, msg) })
	return err
}

// Checksum hashes the live member table; members that agree on who is alive
// with which metadata and incarnation have equal checksums.
func (n *Node) Checksum() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.c.checksum()
}

// Addr is the transport address of the node.
func (n *Node) Addr() string { return n.tr.Addr() }

// Stats returns counters since Create.
func (n *Node) Stats() Stats {
	n.mu.Lock()
	cs, health := n.c.stats, n.c.health
	n.mu.Unlock()
	return Stats{
		PacketsSent: n.stats.packetsSent.Load(), PacketsReceived: n.stats.packetsReceived.Load(),
		BytesSent: n.stats.bytesSent.Load(), BytesReceived: n.stats.bytesReceived.Load(),
		BadPackets: n.stats.badPackets.Load(), AuthFailures: n.stats.authFailures.Load(),
		EventsDropped: n.stats.eventsDropped.Load(), StreamsRefused: n.stats.streamsRefused.Load(),
		Probes: cs.probes, ProbeFailures: cs.probeFailures, Refutes: cs.refutes, Suspicions: cs.suspicions,
		Health: health,
	}
}
