package transport

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/ants/v2"
)

// Handler serves one message type. payload is owned by the handler for the
// duration of the call only: it is reused afterwards, so copy what must be
// kept. The returned response is copied before Handler's caller returns, so
// the handler may reuse it. A returned error reaches the caller as a
// *RemoteError (a *RemoteError is passed through with its Code). For
// one-way messages (Send) the response and error are dropped. ctx is
// cancelled when the transport closes.
type Handler func(ctx context.Context, from string, payload []byte) ([]byte, error)

// PacketHandler receives one datagram. packet is valid only during the
// call. It runs on the packet reader goroutine: keep it short.
type PacketHandler func(from string, packet []byte)

// Transport is node-to-node messaging, addressed by "host:port". Both
// socket engines (Listen) and the in-memory network (package memnet)
// implement it.
type Transport interface {
	// Addr is the address peers use to reach this node.
	Addr() string
	// Handle registers the handler for a message type; it runs on the
	// bounded handler pool. Register handlers before peers send;
	// ErrHandlerExists if t already has one.
	Handle(t MsgType, h Handler) error
	// HandleInline registers a handler that never blocks (no I/O, no
	// waiting on locks held long): it runs where the frame was read,
	// without a pool hand-off, which lowers latency.
	HandleInline(t MsgType, h Handler) error
	// Call sends payload to the handler for t at addr and waits for its
	// response. Context cancellation or deadline returns ctx.Err(); a late
	// response is dropped and counted. payload may be reused after Call
	// returns.
	Call(ctx context.Context, addr string, t MsgType, payload []byte) ([]byte, error)
	// Send queues a one-way message; it returns once the message is queued
	// for the connection, not when it was handled.
	Send(ctx context.Context, addr string, t MsgType, payload []byte) error
	// HandlePackets sets the datagram handler (nil drops packets).
	HandlePackets(h PacketHandler)
	// SendPacket sends one unreliable datagram to addr.
	SendPacket(addr string, packet []byte) error
	// Stats snapshots per-peer counters.
	Stats() Stats
	// Close stops the transport: pending calls fail, handlers' contexts are
	// cancelled, and every goroutine has exited when it returns.
	Close() error
}

// Endpoint is a Transport over real sockets (EngineNet or EngineGnet).
type Endpoint struct {
	cfg  Config
	addr string
	ln   net.Listener
	eng  engine

	handlers   atomic.Pointer[map[MsgType]handlerEntry]
	handlersMu sync.Mutex

	pool      *ants.PoolWithFunc
	running   atomic.Int64 // running Handle handlers, bounded by HandlerPoolSize
	taskPool  sync.Pool
	callPool  sync.Pool
	handshake chan struct{} // semaphore bounding concurrent inbound handshakes

	peersMu sync.RWMutex
	peers   map[string]*peer
	unident errorCounters

	sessMu   sync.Mutex
	sessions map[*session]struct{}

	rngMu sync.Mutex
	rng   *rand.Rand

	pkt packetEndpoint

	ctx    context.Context // handlers' context; cancelled by Close
	cancel context.CancelFunc
	closed atomic.Bool
	wg     sync.WaitGroup
	stop   chan struct{}
}

var _ Transport = (*Endpoint)(nil)

// engine is what differs between EngineNet and EngineGnet.
type engine interface {
	// attach starts I/O on a connection whose handshake is done.
	attach(s *session, c net.Conn) error
	close()
}

// Listen validates cfg, binds ListenAddr (TCP, and UDP on the same port if
// cfg.Packets) and starts serving.
func Listen(cfg Config) (*Endpoint, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Key = append([]byte(nil), cfg.Key...)
	if len(cfg.Key) == 0 {
		cfg.Key = nil
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	ep := &Endpoint{
		cfg:       cfg,
		peers:     make(map[string]*peer),
		sessions:  make(map[*session]struct{}),
		rng:       rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		handshake: make(chan struct{}, 256),
		stop:      make(chan struct{}),
	}
	ep.handlers.Store(&map[MsgType]handlerEntry{})
	ep.callPool.New = func() any { return &call{ch: make(chan result, 1)} }
	ep.taskPool.New = func() any { return &task{} }
	ep.ctx, ep.cancel = context.WithCancel(context.Background())

	// running enforces HandlerPoolSize exactly, for handlers on the pool and
	// on readers alike; the pool has a little slack because a worker
	// returns to it just after its handler released the count.
	pool, err := ants.NewPoolWithFunc(cfg.HandlerPoolSize+runtime.GOMAXPROCS(0), ep.runTask,
		ants.WithNonblocking(true), ants.WithLogger(nopLogger{}))
	if err != nil {
		ep.cancel()
		return nil, err
	}
	ep.pool = pool
	if err := ep.bind(); err != nil {
		ep.cancel()
		pool.Release()
		return nil, err
	}
	switch cfg.Engine {
	case EngineGnet:
		ep.eng, err = newGnetEngine(ep)
	default:
		ep.eng = &netEngine{ep: ep}
	}
	if err != nil {
		ep.cancel()
		ep.ln.Close()
		ep.pkt.close()
		pool.Release()
		return nil, err
	}
	ep.wg.Add(2)
	go ep.acceptLoop()
	go ep.janitor()
	ep.pkt.start(ep)
	return ep, nil
}

// bind opens the TCP listener and, if enabled, the UDP socket on the same
// port. With port 0 it retries when the UDP port happens to be taken.
func (ep *Endpoint) bind() error {
	host, port, err := net.SplitHostPort(ep.cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("%w: ListenAddr: %v", ErrInvalidConfig, err)
	}
	for attempt := 0; ; attempt++ {
		ln, err := net.Listen("tcp", ep.cfg.ListenAddr)
		if err != nil {
			return err
		}
		if !ep.cfg.Packets {
			ep.ln = ln
			break
		}
		bound := ln.Addr().(*net.TCPAddr).Port
		if err := ep.pkt.listen(ep, net.JoinHostPort(host, strconv.Itoa(bound))); err != nil {
			ln.Close()
			if port == "0" && attempt < 8 {
				continue
			}
			return err
		}
		ep.ln = ln
		break
	}
	ep.addr = ep.cfg.AdvertiseAddr
	if ep.addr == "" {
		ep.addr = ep.ln.Addr().String()
	}
	return nil
}

// Addr implements Transport.
func (ep *Endpoint) Addr() string { return ep.addr }

// Engine reports the engine in use.
func (ep *Endpoint) Engine() Engine { return ep.cfg.Engine }

// Handle implements Transport. With EngineNet, a request that arrives on
// an otherwise quiet connection runs on the goroutine that read it (no
// hand-off to a pool worker, which costs as much as the network round trip
// on small VMs); if it is still running after slowHandler to 2×slowHandler,
// a new reader takes over the connection, so a slow handler delays the
// frames behind it by at most that. Either way it counts against
// HandlerPoolSize.
func (ep *Endpoint) Handle(t MsgType, h Handler) error { return ep.register(t, h, false) }

// HandleInline implements Transport: h runs on the connection's reader
// goroutine (EngineNet) or event loop (EngineGnet) instead of the pool,
// saving a goroutine hand-off per request. h must not block: while it runs
// no other frame of that connection is read.
func (ep *Endpoint) HandleInline(t MsgType, h Handler) error { return ep.register(t, h, true) }

type handlerEntry struct {
	fn     Handler
	inline bool
}

func (ep *Endpoint) register(t MsgType, h Handler, inline bool) error {
	if h == nil {
		return fmt.Errorf("%w: nil handler", ErrInvalidConfig)
	}
	ep.handlersMu.Lock()
	defer ep.handlersMu.Unlock()
	old := *ep.handlers.Load()
	if _, ok := old[t]; ok {
		return fmt.Errorf("%w: type %d", ErrHandlerExists, t)
	}
	m := make(map[MsgType]handlerEntry, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[t] = handlerEntry{fn: h, inline: inline}
	ep.handlers.Store(&m)
	return nil
}

func (ep *Endpoint) handler(t MsgType) handlerEntry { return (*ep.handlers.Load())[t] }

// peer returns the peer record for addr, creating it.
func (ep *Endpoint) peer(addr string) *peer {
	ep.peersMu.RLock()
	p := ep.peers[addr]
	ep.peersMu.RUnlock()
	if p != nil {
		return p
	}
	ep.peersMu.Lock()
	defer ep.peersMu.Unlock()
	if p = ep.peers[addr]; p == nil {
		p = newPeer(addr, ep.cfg.ConnsPerPeer)
		ep.peers[addr] = p
	}
	return p
}

// Call implements Transport.
func (ep *Endpoint) Call(ctx context.Context, addr string, t MsgType, payload []byte) ([]byte, error) {
	if ep.closed.Load() {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := ep.peer(addr)
	if len(payload) > ep.cfg.MaxFrameSize {
		p.ctr.errs.tooLarge.Add(1)
		return nil, fmt.Errorf("%w: payload %d > %d", ErrFrameTooLarge, len(payload), ep.cfg.MaxFrameSize)
	}
	s, err := ep.session(ctx, p)
	if err != nil {
		return nil, err
	}
	c := ep.callPool.Get().(*call)
	id := s.nextID.Add(1)
	if !s.addPending(id, c) {
		ep.callPool.Put(c)
		return nil, fmt.Errorf("%w: %s", ErrConnClosed, addr)
	}
	p.ctr.CallStarted()
	start := monoNow()
	if err := s.enqueue(ctx, Header{Flags: FlagRequest, Type: t, ID: id}, payload, true); err != nil {
		if !s.removePending(id) {
			<-c.ch
		}
		ep.callPool.Put(c)
		p.ctr.CallDone(monoNow() - start)
		p.ctr.Error(err)
		return nil, err
	}
	p.ctr.Out(len(payload))
	var r result
	if l, ok := s.io.(leaderIO); ok && s.tryLead(c) {
		r = l.lead(ctx, s, id, c) // read the response ourselves
	} else {
		select {
		case r = <-c.ch:
		case <-ctx.Done():
			if !s.removePending(id) {
				<-c.ch // the response or a failure raced us; drop it
			}
			r = result{err: ctx.Err()}
		}
	}
	c.own, c.has = result{}, false
	ep.callPool.Put(c)
	p.ctr.CallDone(monoNow() - start)
	if r.err != nil {
		p.ctr.Error(r.err)
		return nil, r.err
	}
	return r.payload, nil
}

// Send implements Transport.
func (ep *Endpoint) Send(ctx context.Context, addr string, t MsgType, payload []byte) error {
	if ep.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p := ep.peer(addr)
	if len(payload) > ep.cfg.MaxFrameSize {
		p.ctr.errs.tooLarge.Add(1)
		return fmt.Errorf("%w: payload %d > %d", ErrFrameTooLarge, len(payload), ep.cfg.MaxFrameSize)
	}
	s, err := ep.session(ctx, p)
	if err != nil {
		return err
	}
	if err := s.enqueue(ctx, Header{Type: t}, payload, true); err != nil {
		p.ctr.Error(err)
		return err
	}
	p.ctr.Out(len(payload))
	return nil
}

// monoEpoch anchors monoNow.
var monoEpoch = time.Now()

// monoNow is a monotonic clock reading for latencies: time.Since on a
// monotonic base reads only the runtime's monotonic clock, about half the
// cost of time.Now (which also reads the wall clock) on these VMs.
func monoNow() time.Duration { return time.Since(monoEpoch) }

// Stats implements Transport.
func (ep *Endpoint) Stats() Stats {
	ep.peersMu.RLock()
	defer ep.peersMu.RUnlock()
	st := Stats{Peers: make([]PeerStats, 0, len(ep.peers)), Unidentified: ep.unident.snapshot()}
	for addr, p := range ep.peers {
		st.Peers = append(st.Peers, p.ctr.Snapshot(addr))
	}
	return st
}

// Close implements Transport.
func (ep *Endpoint) Close() error {
	if !ep.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	close(ep.stop)
	err := ep.ln.Close()
	ep.pkt.close()
	ep.sessMu.Lock()
	all := make([]*session, 0, len(ep.sessions))
	for s := range ep.sessions {
		all = append(all, s)
	}
	ep.sessMu.Unlock()
	for _, s := range all {
		s.fail(ErrClosed)
	}
	// Cancel handlers only after the connections are gone, so that their
	// ctx errors never reach callers as responses.
	ep.cancel()
	ep.wg.Wait()
	if perr := ep.pool.ReleaseTimeout(10 * time.Second); perr != nil && err == nil {
		err = perr
	}
	ep.eng.close()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// session picks (and if needed dials) a connection to p.
func (ep *Endpoint) session(ctx context.Context, p *peer) (*session, error) {
	i := 0
	if n := len(p.slots); n > 1 {
		i = int(p.rr.Add(1) % uint32(n))
	}
	sl := p.slots[i]
	if s := sl.s.Load(); s != nil {
		return s, nil
	}
	return ep.connect(ctx, p, sl)
}

func (ep *Endpoint) connect(ctx context.Context, p *peer, sl *slot) (*session, error) {
	for {
		p.mu.Lock()
		if s := sl.s.Load(); s != nil {
			p.mu.Unlock()
			return s, nil
		}
		if ep.closed.Load() {
			p.mu.Unlock()
			return nil, ErrClosed
		}
		if sl.dialing != nil {
			ch := sl.dialing
			p.mu.Unlock()
			select {
			case <-ch:
				p.mu.Lock()
				s, err := sl.s.Load(), sl.lastErr
				p.mu.Unlock()
				if s != nil {
					return s, nil
				}
				if err != nil {
					return nil, err
				}
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if time.Now().Before(sl.retryAt) {
			err := sl.lastErr
			p.mu.Unlock()
			return nil, err
		}
		ch := make(chan struct{})
		sl.dialing = ch
		p.mu.Unlock()
		ep.wg.Add(1)
		go ep.dial(p, sl, ch)
	}
}

// dial runs on its own goroutine so that a caller whose context ends does
// not abort a dial other callers wait for.
func (ep *Endpoint) dial(p *peer, sl *slot, done chan struct{}) {
	defer ep.wg.Done()
	_, err := ep.dialSession(p, sl)
	p.mu.Lock()
	sl.dialing = nil
	if err != nil {
		p.ctr.Error(err)
		sl.failures++
		sl.lastErr = err
		sl.retryAt = time.Now().Add(ep.backoff(sl.failures))
	} else {
		sl.failures = 0
		sl.lastErr = nil
		sl.retryAt = time.Time{}
		if sl.everConnected {
			p.ctr.Reconnect()
		}
		sl.everConnected = true
	}
	p.mu.Unlock()
	close(done)
}

func (ep *Endpoint) dialSession(p *peer, sl *slot) (*session, error) {
	deadline := time.Now().Add(ep.cfg.DialTimeout)
	ctx, cancel := context.WithDeadline(ep.ctx, deadline)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrDial, p.addr, err)
	}
	stop := context.AfterFunc(ep.ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) }) // Close aborts the handshake
	_, cs, err := handshake(c, &ep.cfg, ep.addr, true, deadline)
	stop()
	if err != nil {
		c.Close()
		if errors.Is(err, ErrUnauthenticated) || errors.Is(err, ErrBadFrame) {
			return nil, fmt.Errorf("%w: %s: %w", ErrDial, p.addr, err)
		}
		return nil, fmt.Errorf("%w: %s: handshake: %v", ErrDial, p.addr, err)
	}
	s := newSession(ep, p, cs, true)
	s.slot = sl
	if err := ep.addSession(s); err != nil {
		c.Close()
		return nil, err
	}
	if err := ep.eng.attach(s, c); err != nil {
		s.fail(err)
		return nil, fmt.Errorf("%w: %s: %v", ErrDial, p.addr, err)
	}
	sl.s.Store(s)
	if s.isClosed() { // failed while we attached: fail could not unpublish it
		sl.s.CompareAndSwap(s, nil)
	}
	return s, nil
}

// backoff returns a jittered exponential delay for the n-th failure.
func (ep *Endpoint) backoff(n int) time.Duration {
	d := ep.cfg.BackoffBase
	for i := 1; i < n && d < ep.cfg.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, ep.cfg.BackoffMax)
	ep.rngMu.Lock()
	j := ep.rng.Int64N(int64(d)/2 + 1)
	ep.rngMu.Unlock()
	return d/2 + time.Duration(j)
}

func (ep *Endpoint) addSession(s *session) error {
	ep.sessMu.Lock()
	defer ep.sessMu.Unlock()
	if ep.closed.Load() {
		return ErrClosed
	}
	ep.sessions[s] = struct{}{}
	s.peer.ctr.ConnOpened()
	return nil
}

func (ep *Endpoint) removeSession(s *session) {
	ep.sessMu.Lock()
	if _, ok := ep.sessions[s]; ok {
		delete(ep.sessions, s)
		s.peer.ctr.ConnClosed()
	}
	ep.sessMu.Unlock()
}

func (ep *Endpoint) acceptLoop() {
	defer ep.wg.Done()
	for {
		c, err := ep.ln.Accept()
		if err != nil {
			if ep.closed.Load() {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		select {
		case ep.handshake <- struct{}{}:
		default:
			ep.unident.overloaded.Add(1)
			c.Close()
			continue
		}
		ep.wg.Add(1)
		go ep.accept(c)
	}
}

func (ep *Endpoint) accept(c net.Conn) {
	defer ep.wg.Done()
	defer func() { <-ep.handshake }()
	stop := context.AfterFunc(ep.ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	from, cs, err := handshake(c, &ep.cfg, ep.addr, false, time.Now().Add(ep.cfg.DialTimeout))
	stop()
	if err != nil {
		countError(&ep.unident, err)
		c.Close()
		return
	}
	if from == "" {
		from = c.RemoteAddr().String()
	}
	s := newSession(ep, ep.peer(from), cs, false)
	if err := ep.addSession(s); err != nil {
		c.Close()
		return
	}
	if err := ep.eng.attach(s, c); err != nil {
		s.fail(err)
	}
}

// janitor closes idle connections and connections stalled mid-frame (the
// gnet engine has no read deadlines).
func (ep *Endpoint) janitor() {
	defer ep.wg.Done()
	tick := ep.cfg.FrameTimeout
	if ep.cfg.IdleTimeout > 0 {
		tick = min(tick, ep.cfg.IdleTimeout)
	}
	tick = max(tick/4, time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ep.stop:
			return
		case now := <-t.C:
			ep.sweep(now)
		}
	}
}

func (ep *Endpoint) sweep(now time.Time) {
	ep.sessMu.Lock()
	all := make([]*session, 0, len(ep.sessions))
	for s := range ep.sessions {
		all = append(all, s)
	}
	ep.sessMu.Unlock()
	for _, s := range all {
		if ps := s.partialSince.Load(); ps != 0 && now.Sub(time.Unix(0, ps)) > ep.cfg.FrameTimeout {
			s.peer.ctr.errs.stalled.Add(1)
			s.fail(fmt.Errorf("%w: peer stalled mid-frame", ErrBadFrame))
			continue
		}
		s.mu.Lock()
		sio := s.io // nil until the engine attached
		s.mu.Unlock()
		if l, ok := sio.(leaderIO); ok && s.dialer {
			l.watch() // read an idle dialed connection to notice a close
		}
		if ep.cfg.IdleTimeout <= 0 {
			continue
		}
		if s.active.Swap(false) || s.sweepAt.IsZero() {
			s.sweepAt = now
			continue
		}
		if now.Sub(s.sweepAt) >= ep.cfg.IdleTimeout && s.idle() {
			s.fail(errIdle)
		}
	}
}

var errIdle = errors.New("transport: idle connection closed")

// countError files err under its kind.
func countError(e *errorCounters, err error) {
	var re *RemoteError
	switch {
	case err == nil:
	case errors.Is(err, ErrOverloaded):
		e.overloaded.Add(1)
	case errors.Is(err, ErrUnknownType):
		e.unknownType.Add(1)
	case errors.As(err, &re):
		e.remote.Add(1)
	case errors.Is(err, ErrFrameTooLarge):
		e.tooLarge.Add(1)
	case errors.Is(err, ErrUnauthenticated):
		e.unauth.Add(1)
	case errors.Is(err, ErrDial):
		e.dial.Add(1)
	case errors.Is(err, ErrBadFrame):
		e.badFrame.Add(1)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		e.timeout.Add(1)
	case errors.Is(err, ErrConnClosed):
		e.connClosed.Add(1)
	}
}

// nopLogger silences ants and gnet.
type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}
func (nopLogger) Debugf(string, ...any) {}
func (nopLogger) Infof(string, ...any)  {}
func (nopLogger) Warnf(string, ...any)  {}
func (nopLogger) Errorf(string, ...any) {}
func (nopLogger) Fatalf(string, ...any) {}
