//go:build unix

package transport

import (
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// gnetEngine hands every connection, after the handshake, to a gnet/v2
// client whose event loops do all reads and writes. Accepting and the
// hello exchange use the standard library (they are rare and may block;
// event-loop callbacks never do). Inbound frames are parsed in OnTraffic
// and handed to the handler pool; outbound frames are written with
// AsyncWrite, one batch in flight per connection, and the next batch waits
// while gnet's own outbound buffer is above the queue limit, which bounds
// memory for a slow peer.
type gnetEngine struct {
	ep  *Endpoint
	cli *gnet.Client
}

type gnetHandler struct {
	gnet.BuiltinEventEngine
}

type gnetIO struct {
	cb gnet.AsyncCallback // written, bound to the session once

	// Direct writes: the flusher writes to the non-blocking socket itself
	// (no event-loop round trip, no gnet allocations). Only when the
	// socket is full does the rest go through AsyncWrite, and later
	// batches follow it there (viaLoop, under the session's mu) until
	// gnet's buffer is empty, keeping bytes in order. w's descriptor is
	// set in OnOpen and closed for writes in OnClose, which runs before
	// gnet closes it.
	w       rawWriter
	viaLoop bool

	mu    sync.Mutex
	c     gnet.Conn // set in OnOpen, before any traffic
	timer *time.Timer
	// event-loop only
	sealed []byte
}

func newGnetEngine(ep *Endpoint) (*gnetEngine, error) {
	cli, err := gnet.NewClient(&gnetHandler{},
		gnet.WithMulticore(true),
		gnet.WithNumEventLoop(ep.cfg.eventLoops()),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithReadBufferCap(64<<10),
		gnet.WithWriteBufferCap(64<<10),
		gnet.WithLogger(nopLogger{}),
	)
	if err != nil {
		return nil, err
	}
	if err := cli.Start(); err != nil {
		return nil, err
	}
	return &gnetEngine{ep: ep, cli: cli}, nil
}

func (e *gnetEngine) attach(s *session, c net.Conn) error {
	g := &gnetIO{w: rawWriter{fd: -1}}
	g.cb = func(c gnet.Conn, err error) error { return g.written(s, c, err) }
	s.mu.Lock()
	s.io = g
	s.mu.Unlock()
	// EnrollContext duplicates the descriptor and closes c; OnOpen has run
	// (setting g.c) when it returns.
	if _, err := e.cli.EnrollContext(c, s); err != nil {
		return err
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed { // failed before g.c was set: make sure the socket goes
		g.closeConn()
	}
	return nil
}

func (e *gnetEngine) close() { _ = e.cli.Stop() }

func (g *gnetIO) conn() gnet.Conn {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.c
}

func (g *gnetIO) closeConn() {
	g.mu.Lock()
	c := g.c
	if g.timer != nil {
		g.timer.Stop()
	}
	g.mu.Unlock()
	if c != nil {
		_ = c.Close()
	}
}

// maxDirectRounds bounds how many batches one sender writes for others
// before handing the rest to the event loop.
const maxDirectRounds = 4

func (g *gnetIO) flushLocked(s *session) error {
	for round := 0; ; round++ {
		viaLoop := g.viaLoop || round == maxDirectRounds
		buf := s.takeLocked()
		s.mu.Unlock()
		if viaLoop {
			return g.asyncWrite(s, buf)
		}
		s.peer.ctr.writes.Add(1)
		n, err := g.writeDirect(buf)
		if err != nil {
			s.mu.Lock()
			s.writtenLocked(buf)
			s.flushing = false
			s.mu.Unlock()
			s.fail(err)
			return fmt.Errorf("%w: %s: %v", ErrConnClosed, s.peer.addr, err)
		}
		if n < len(buf) { // socket full: gnet writes the rest when writable
			s.mu.Lock()
			g.viaLoop = true
			s.mu.Unlock()
			return g.asyncWrite(s, buf[n:])
		}
		s.mu.Lock()
		s.writtenLocked(buf)
		if len(s.pend) == 0 {
			s.flushing = false
			s.mu.Unlock()
			return nil
		}
	}
}

// writeDirect writes what the socket takes now.
func (g *gnetIO) writeDirect(buf []byte) (int, error) { return g.w.tryWrite(buf) }

// asyncWrite hands buf (part of s.inflight) to the event loop.
func (g *gnetIO) asyncWrite(s *session, buf []byte) error {
	s.peer.ctr.writes.Add(1)
	if err := g.conn().AsyncWrite(buf, g.cb); err != nil {
		s.mu.Lock()
		s.writtenLocked(s.inflight)
		s.flushing = false
		s.mu.Unlock()
		s.fail(err)
		return fmt.Errorf("%w: %s: %v", ErrConnClosed, s.peer.addr, err)
	}
	return nil
}

// written runs on the event loop after a batch was handed to the socket
// (the unsent rest sits in gnet's outbound buffer).
func (g *gnetIO) written(s *session, c gnet.Conn, err error) error {
	s.mu.Lock()
	if s.inflight != nil {
		s.writtenLocked(s.inflight)
	}
	if err != nil || s.closed {
		s.flushing = false
		s.mu.Unlock()
		if err != nil {
			s.fail(err)
		}
		return nil
	}
	if c.OutboundBuffered() > s.ep.cfg.OutboundQueueBytes {
		// The peer is slow: keep flushing set (senders queue up to the
		// limit, then wait) and look again shortly. gnet has no
		// "writable" callback to hook.
		s.mu.Unlock()
		g.recheck(s)
		return nil
	}
	if len(s.pend) == 0 {
		if c.OutboundBuffered() == 0 {
			g.viaLoop = false // gnet holds no bytes: direct writes keep order again
		}
		s.flushing = false
		s.mu.Unlock()
		return nil
	}
	buf := s.takeLocked()
	s.mu.Unlock()
	s.peer.ctr.writes.Add(1)
	if err := c.AsyncWrite(buf, g.cb); err != nil {
		s.fail(err)
	}
	return nil
}

func (g *gnetIO) recheck(s *session) {
	g.mu.Lock()
	defer g.mu.Unlock()
	wake := func() {
		if s.isClosed() {
			return
		}
		c := g.conn()
		if err := c.Wake(g.cb); err != nil {
			s.fail(err)
		}
	}
	if g.timer == nil {
		g.timer = time.AfterFunc(time.Millisecond, wake)
	} else {
		g.timer.Reset(time.Millisecond)
	}
}

// OnOpen records the gnet connection for writers.
func (*gnetHandler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	s := c.Context().(*session)
	g := s.io.(*gnetIO)
	g.mu.Lock()
	g.c = c
	g.mu.Unlock()
	g.w.setFD(c.Fd())
	return nil, gnet.None
}

// OnClose fails the session.
func (*gnetHandler) OnClose(c gnet.Conn, err error) gnet.Action {
	s := c.Context().(*session)
	g := s.io.(*gnetIO)
	g.w.close() // waits for a direct write in progress; gnet closes the fd after us
	if err == nil {
		err = ErrConnClosed
	}
	s.fail(err)
	return gnet.None
}

// OnTraffic parses every complete frame and leaves a partial one buffered.
func (*gnetHandler) OnTraffic(c gnet.Conn) gnet.Action {
	s := c.Context().(*session)
	g := s.io.(*gnetIO)
	if err := g.readFrames(s, c); err != nil {
		countError(&s.peer.ctr.errs, err)
		s.fail(err)
		return gnet.Close
	}
	if c.InboundBuffered() > 0 {
		if s.partialSince.Load() == 0 {
			s.partialSince.Store(time.Now().UnixNano())
		}
	} else {
		s.partialSince.Store(0)
	}
	return gnet.None
}

// readFrames routes every complete frame buffered on c. While more bytes
// follow the frame being routed, the session is corked: responses that
// inline handlers (and pool workers) queue meanwhile leave in one write
// when the batch is done, instead of one write each.
func (g *gnetIO) readFrames(s *session, c gnet.Conn) error {
	corked := false
	defer func() {
		if corked {
			s.setCork(false) // flushes what the batch queued
		}
	}()
	cork := func() {
		if !corked && c.InboundBuffered() > 0 {
			corked = true
			s.setCork(true)
		}
	}
	maxPayload := s.ep.cfg.MaxFrameSize
	for {
		n := c.InboundBuffered()
		if s.cs == nil {
			if n < HeaderSize {
				return nil
			}
			hb, err := c.Peek(HeaderSize)
			if err != nil {
				return err
			}
			h, err := DecodeHeader(hb, maxPayload)
			if err != nil {
				return err
			}
			total := HeaderSize + int(h.Length)
			if n < total {
				return nil
			}
			fb, err := c.Peek(total)
			if err != nil {
				return err
			}
			dst, t := s.inbound(h)
			copy(dst, fb[HeaderSize:])
			_, _ = c.Discard(total)
			s.partialSince.Store(0)
			cork()
			s.onFrame(h, dst, t)
			continue
		}
		if n < 4 {
			return nil
		}
		lb, err := c.Peek(4)
		if err != nil {
			return err
		}
		size := int(binary.BigEndian.Uint32(lb))
		if err := checkSealedSize(size, maxPayload); err != nil {
			return err
		}
		if n < 4+size {
			return nil
		}
		fb, err := c.Peek(4 + size)
		if err != nil {
			return err
		}
		g.sealed = append(g.sealed[:0], fb[4:]...)
		_, _ = c.Discard(4 + size)
		pt, err := s.cs.open(g.sealed)
		if err != nil {
			return err
		}
		h, err := DecodeHeader(pt, maxPayload)
		if err != nil {
			return err
		}
		if len(pt) != HeaderSize+int(h.Length) {
			return fmt.Errorf("%w: sealed length mismatch", ErrBadFrame)
		}
		dst, t := s.inbound(h)
		copy(dst, pt[HeaderSize:])
		s.partialSince.Store(0)
		cork()
		s.onFrame(h, dst, t)
	}
}
