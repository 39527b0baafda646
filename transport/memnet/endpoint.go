package memnet

import (
	"context"

	"fmt"
	"sync"
	"time"

	"github.com/gridkv/gridkv/transport"
)

// Config bounds an in-memory endpoint like transport.Config bounds a real
// one.
type Config struct {
	// MaxFrameSize bounds a payload (transport.ErrFrameTooLarge above it).
	MaxFrameSize int
	// HandlerPoolSize bounds concurrently running handlers; above it calls
	// get transport.ErrOverloaded.
	HandlerPoolSize int
	// MaxPacketSize bounds one packet.
	MaxPacketSize int
	// PacketQueue bounds packets waiting for the packet handler; more are
	// dropped, as a full UDP socket buffer would.
	PacketQueue int
}

// DefaultConfig mirrors transport.DefaultConfig.
func DefaultConfig() Config {
	d := transport.DefaultConfig()
	return Config{
		MaxFrameSize:    d.MaxFrameSize,
		HandlerPoolSize: d.HandlerPoolSize,
		MaxPacketSize:   d.MaxPacketSize,
		PacketQueue:     1024,
	}
}

// Validate reports an invalid field, wrapping transport.ErrInvalidConfig.
func (c Config) Validate() error {
	if c.MaxFrameSize <= 0 || c.HandlerPoolSize <= 0 || c.MaxPacketSize <= 0 || c.PacketQueue <= 0 {
		return fmt.Errorf("%w: memnet: every limit must be positive: %+v", transport.ErrInvalidConfig, c)
	}
	return nil
}

// Endpoint is one node on a Network. It implements transport.Transport.
type Endpoint struct {
	net  *Network
	addr string
	cfg  Config
	sem  chan struct{} // handler slots

	handlersMu sync.RWMutex
	handlers   map[transport.MsgType]transport.Handler
	pktMu      sync.RWMutex
	pktHandler transport.PacketHandler

	mu      sync.Mutex
	closed  bool
	killed  bool
	ctx     context.Context
	cancel  context.CancelFunc
	nextID  uint64
	pending map[uint64]*pcall
	peers   map[string]*peerRec
	unident transport.PeerCounters

	inbox chan packet
	stop  chan struct{}
	wg    sync.WaitGroup
}

type pcall struct {
	to string
	ch chan result
}

type result struct {
	payload []byte
	err     error
}

type peerRec struct {
	ctr    transport.PeerCounters
	broken bool // a kill broke our link; the next success is a reconnect
}

type packet struct {
	from string
	data []byte
}

// Listen adds an endpoint at addr ("" picks "memnet-N:7000").
func (n *Network) Listen(addr string, cfg Config) (*Endpoint, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if addr == "" {
		for {
			n.nextAuto++
			addr = fmt.Sprintf("memnet-%d:7000", n.nextAuto)
			if n.nodes[addr] == nil {
				break
			}
		}
	}
	if n.nodes[addr] != nil {
		return nil, fmt.Errorf("%w: %s", ErrAddrInUse, addr)
	}
	e := &Endpoint{
		net: n, addr: addr, cfg: cfg,
		sem:      make(chan struct{}, cfg.HandlerPoolSize),
		handlers: make(map[transport.MsgType]transport.Handler),
		pending:  make(map[uint64]*pcall),
		peers:    make(map[string]*peerRec),
		inbox:    make(chan packet, cfg.PacketQueue),
		stop:     make(chan struct{}),
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	n.nodes[addr] = e
	e.wg.Add(1)
	go e.packetLoop()
	return e, nil
}

// Addr implements transport.Transport.
func (e *Endpoint) Addr() string { return e.addr }

// Handle implements transport.Transport.
func (e *Endpoint) Handle(t transport.MsgType, h transport.Handler) error {
	if h == nil {
		return fmt.Errorf("%w: nil handler", transport.ErrInvalidConfig)
	}
	e.handlersMu.Lock()
	defer e.handlersMu.Unlock()
	if _, ok := e.handlers[t]; ok {
		return fmt.Errorf("%w: type %d", transport.ErrHandlerExists, t)
	}
	e.handlers[t] = h
	return nil
}

// HandleInline implements transport.Transport. In memory there is no
// reader to spare, so it is the same as Handle.
func (e *Endpoint) HandleInline(t transport.MsgType, h transport.Handler) error {
	return e.Handle(t, h)
}

// HandlePackets implements transport.Transport.
func (e *Endpoint) HandlePackets(h transport.PacketHandler) {
	e.pktMu.Lock()
	e.pktHandler = h
	e.pktMu.Unlock()
}

func (e *Endpoint) peerLocked(addr string) *peerRec {
	p := e.peers[addr]
	if p == nil {
		p = &peerRec{}
		e.peers[addr] = p
	}
	return p
}

func (e *Endpoint) peer(addr string) *peerRec {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.peerLocked(addr)
}

// alive reports whether the endpoint accepts messages.
func (e *Endpoint) alive() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return !e.closed && !e.killed
}

// begin checks this endpoint may send and finds a live target.
func (e *Endpoint) begin(addr string) (*peerRec, *Endpoint, error) {
	e.mu.Lock()
	if e.closed || e.killed {
		e.mu.Unlock()
		return nil, nil, transport.ErrClosed
	}
	p := e.peerLocked(addr)
	e.mu.Unlock()
	target := e.net.lookup(addr)
	if target == nil || !target.alive() {
		err := fmt.Errorf("%w: %s: connection refused", transport.ErrDial, addr)
		p.ctr.Error(err)
		return p, nil, err
	}
	e.mu.Lock()
	if p.broken {
		p.broken = false
		p.ctr.Reconnect()
	}
	e.mu.Unlock()
	return p, target, nil
}

// Call implements transport.Transport.
func (e *Endpoint) Call(ctx context.Context, addr string, t transport.MsgType, payload []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(payload) > e.cfg.MaxFrameSize {
		return nil, fmt.Errorf("%w: payload %d > %d", transport.ErrFrameTooLarge, len(payload), e.cfg.MaxFrameSize)
	}
	p, target, err := e.begin(addr)
	if err != nil {
		return nil, err
	}
	pc := &pcall{to: addr, ch: make(chan result, 1)}
	e.mu.Lock()
	if e.closed || e.killed {
		e.mu.Unlock()
		return nil, transport.ErrClosed
	}
	e.nextID++
	id := e.nextID
	e.pending[id] = pc
	e.mu.Unlock()

	p.ctr.CallStarted()
	start := time.Now()
	buf := append([]byte(nil), payload...)
	p.ctr.Out(len(buf))
	e.net.deliver(e.addr, addr, func() { target.onRequest(e, id, t, buf) })
	if !target.alive() { // killed while we sent: Kill may have missed this call
		e.failPending(func(x *pcall) bool { return x == pc }, fmt.Errorf("%w: %s", transport.ErrConnClosed, addr))
	}

	var r result
	select {
	case r = <-pc.ch:
	case <-ctx.Done():
		e.mu.Lock()
		_, still := e.pending[id]
		delete(e.pending, id)
		e.mu.Unlock()
		if !still {
			<-pc.ch
		}
		r = result{err: ctx.Err()}
	}
	p.ctr.CallDone(time.Since(start))
	if r.err != nil {
		p.ctr.Error(r.err)
		return nil, r.err
	}
	return r.payload, nil
}

// Send implements transport.Transport. A message lost to a fault still
// returns nil, as a queued message to a real peer would.
func (e *Endpoint) Send(ctx context.Context, addr string, t transport.MsgType, payload []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(payload) > e.cfg.MaxFrameSize {
		return fmt.Errorf("%w: payload %d > %d", transport.ErrFrameTooLarge, len(payload), e.cfg.MaxFrameSize)
	}
	p, target, err := e.begin(addr)
	if err != nil {
		return err
	}
	buf := append([]byte(nil), payload...)
	p.ctr.Out(len(buf))
	e.net.deliver(e.addr, addr, func() { target.onRequest(e, 0, t, buf) })
	return nil
}

// SendPacket implements transport.Transport. Packets to unknown or dead
// nodes vanish silently, like UDP.
func (e *Endpoint) SendPacket(addr string, data []byte) error {
	if len(data) > e.cfg.MaxPacketSize {
		return fmt.Errorf("%w: packet %d > %d", transport.ErrFrameTooLarge, len(data), e.cfg.MaxPacketSize)
	}
	if !e.alive() {
		return transport.ErrClosed
	}
	target := e.net.lookup(addr)
	if target == nil {
		return nil
	}
	buf := append([]byte(nil), data...)
	e.net.deliver(e.addr, addr, func() { target.onPacket(e.addr, buf) })
	return nil
}

// onRequest runs on the delivering goroutine (sender or clock); it never
// blocks. id 0 marks a one-way message.
func (e *Endpoint) onRequest(src *Endpoint, id uint64, t transport.MsgType, data []byte) {
	e.mu.Lock()
	if e.closed || e.killed {
		e.mu.Unlock()
		return
	}
	p := e.peerLocked(src.addr)
	ctx := e.ctx
	e.mu.Unlock()
	p.ctr.In(len(data))
	e.handlersMu.RLock()
	h := e.handlers[t]
	e.handlersMu.RUnlock()
	if h == nil {
		p.ctr.Error(transport.ErrUnknownType)
		e.reply(src, id, nil, &transport.RemoteError{Code: transport.CodeUnknownType, Message: fmt.Sprintf("no handler for type %d", t)})
		return
	}
	select {
	case e.sem <- struct{}{}:
	default:
		p.ctr.Error(transport.ErrOverloaded)
		e.reply(src, id, nil, &transport.RemoteError{Code: transport.CodeOverloaded, Message: "handler pool saturated"})
		return
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		<-e.sem
		return
	}
	e.wg.Add(1)
	e.mu.Unlock()
	payload := append([]byte(nil), data...) // duplicates must not share a buffer
	go func() {
		defer e.wg.Done()
		resp, err := h(ctx, src.addr, payload)
		<-e.sem
		if ctx.Err() != nil { // killed or closed meanwhile: a crashed process sends nothing
			return
		}
		e.reply(src, id, resp, err)
	}()
}

func (e *Endpoint) reply(src *Endpoint, id uint64, resp []byte, err error) {
	if id == 0 {
		return
	}
	isErr := err != nil
	if isErr {
		resp = transport.ErrorPayload(err)
	} else if len(resp) > e.cfg.MaxFrameSize {
		isErr = true
		resp = transport.ErrorPayload(fmt.Errorf("%w: response %d > %d", transport.ErrFrameTooLarge, len(resp), e.cfg.MaxFrameSize))
	} else {
		resp = append([]byte(nil), resp...)
	}
	e.peer(src.addr).ctr.Out(len(resp))
	from := e.addr
	e.net.deliver(from, src.addr, func() { src.onResponse(from, id, resp, isErr) })
}

func (e *Endpoint) onResponse(from string, id uint64, data []byte, isErr bool) {
	e.mu.Lock()
	if e.closed || e.killed {
		e.mu.Unlock()
		return
	}
	p := e.peerLocked(from)
	pc := e.pending[id]
	delete(e.pending, id)
	e.mu.Unlock()
	p.ctr.In(len(data))
	if pc == nil {
		p.ctr.Late()
		return
	}
	if isErr {
		pc.ch <- result{err: transport.ParseErrorPayload(data)}
		return
	}
	pc.ch <- result{payload: append([]byte(nil), data...)}
}

func (e *Endpoint) onPacket(from string, data []byte) {
	if !e.alive() {
		return
	}
	select {
	case e.inbox <- packet{from: from, data: append([]byte(nil), data...)}:
	default:
		e.unident.Error(transport.ErrOverloaded)
	}
}

func (e *Endpoint) packetLoop() {
	defer e.wg.Done()
	for {
		select {
		case <-e.stop:
			return
		case pk := <-e.inbox:
			if !e.alive() {
				continue
			}
			e.pktMu.RLock()
			h := e.pktHandler
			e.pktMu.RUnlock()
			if h != nil {
				h(pk.from, pk.data)
			}
		}
	}
}

// failPending fails pending calls matching pred with err.
func (e *Endpoint) failPending(pred func(*pcall) bool, err error) {
	e.mu.Lock()
	var hit []*pcall
	for id, pc := range e.pending {
		if pred(pc) {
			hit = append(hit, pc)
			delete(e.pending, id)
		}
	}
	e.mu.Unlock()
	for _, pc := range hit {
		pc.ch <- result{err: err}
	}
}

func (e *Endpoint) kill() {
	e.mu.Lock()
	e.killed = true
	e.cancel()
	e.mu.Unlock()
	e.failPending(func(*pcall) bool { return true }, fmt.Errorf("%w: %s killed", transport.ErrConnClosed, e.addr))
}

func (e *Endpoint) restart() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.killed || e.closed {
		return
	}
	e.killed = false
	e.ctx, e.cancel = context.WithCancel(context.Background())
}

func (e *Endpoint) peerDied(addr string) {
	e.mu.Lock()
	if p := e.peers[addr]; p != nil {
		p.broken = true
	}
	e.mu.Unlock()
	e.failPending(func(pc *pcall) bool { return pc.to == addr },
		fmt.Errorf("%w: %s", transport.ErrConnClosed, addr))
}

// Stats implements transport.Transport.
func (e *Endpoint) Stats() transport.Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := transport.Stats{Unidentified: e.unident.Snapshot("").Errors}
	for addr, p := range e.peers {
		st.Peers = append(st.Peers, p.ctr.Snapshot(addr))
	}
	return st
}

// Close implements transport.Transport: the address is freed, calls
// waiting on this node fail with transport.ErrConnClosed.
func (e *Endpoint) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return transport.ErrClosed
	}
	e.closed = true
	e.cancel()
	e.mu.Unlock()
	e.failPending(func(*pcall) bool { return true }, transport.ErrClosed)
	close(e.stop)
	e.wg.Wait()
	n := e.net
	n.mu.Lock()
	if n.nodes[e.addr] == e {
		delete(n.nodes, e.addr)
	}
	var others []*Endpoint
	for _, o := range n.nodes {
		others = append(others, o)
	}
	n.mu.Unlock()
	for _, o := range others {
		o.peerDied(e.addr)
	}
	return nil
}
