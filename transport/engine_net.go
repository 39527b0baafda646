package transport

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// netEngine drives each connection with goroutines from the standard
// library.
//
// Writes: when no write is in progress the sending goroutine writes itself
// (no hand-off on the uncontended path); frames queued meanwhile are written
// by the connection's writer goroutine in one go.
//
// Reads: an accepted connection has a reader goroutine that reads all the
// time (it carries requests). A dialed connection carries only the
// responses to this endpoint's calls, and a caller waiting for its
// response reads them itself when nobody else is reading (it "leads"):
// the response then wakes the caller straight from the network poller, as
// a plain net.Conn round trip does, instead of waking a reader goroutine
// that wakes the caller — a hand-off that doubled the round trip on these
// 2-core VMs. The leader delivers other calls' responses on its way and,
// once it has its own, hands the read role to the connection's watcher
// goroutine if calls are still pending. The watcher also reads idle
// connections when the janitor asks it to, so that a peer's close is
// noticed between calls. At most one goroutine holds the read role
// (session.reader, under session.pmu).
type netEngine struct{ ep *Endpoint }

type netIO struct {
	c    net.Conn
	kick chan struct{}
	rest []byte     // unwritten tail of s.inflight, for the writer (under s.mu)
	wdl  time.Time  // the socket's write deadline (flushing token holder)
	rw   *rawWriter // direct writes without a deadline; nil if unavailable
	fr   frameReader
	wake chan struct{} // dialed connections: take the read role (watcher)

	// Accepted connections: handlers run by the reader (see readLoop).
	handed    *task         // taken by runHere for the current reader
	busy      atomic.Uint64 // odd while the current reader runs a handler
	slow      *time.Timer   // watchSlow, armed while handlers run
	slowArmed atomic.Bool
	slowSeen  atomic.Uint64
}

// Holders of a session's read role.
const (
	readerNone   = iota // nobody reads (dialed connections only)
	readerLoop          // the reader goroutine (accepted) or the watcher (dialed)
	readerCaller        // a caller waiting for its response (dialed)
)

func (e *netEngine) attach(s *session, c net.Conn) error {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	nio := &netIO{c: c, kick: make(chan struct{}, 1), wake: make(chan struct{}, 1)}
	if sc, ok := c.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			nio.rw = newRawWriter(rc)
		}
	}
	nio.fr.init(c, s)
	s.mu.Lock()
	s.io = nio
	closed := s.closed
	s.mu.Unlock()
	if closed {
		c.Close()
		return ErrClosed
	}
	e.ep.wg.Add(2)
	if s.dialer {
		nio.wake <- struct{}{} // watch from the start until the first call leads
		go nio.watchLoop(s)
	} else {
		s.pmu.Lock()
		s.reader = readerLoop
		s.pmu.Unlock()
		s.runHere = nio.runHere
		nio.fr.cork = true
		nio.slow = time.AfterFunc(time.Hour, func() { nio.watchSlow(s) })
		nio.slow.Stop()
		go nio.readLoop(s)
	}
	go nio.writeLoop(s)
	return nil
}

func (e *netEngine) close() {}

func (n *netIO) closeConn() {
	if n.rw != nil {
		n.rw.close() // waits for a direct write in progress
	}
	n.c.Close()
	if n.slow != nil {
		n.slow.Stop()
	}
}

// directWriteBudget bounds how long a sending goroutine writes itself; a
// socket that does not take the bytes by then (a slow peer) gets the rest
// written by the writer goroutine, so callers never block beyond their
// context.
const directWriteBudget = 2 * time.Millisecond

// write writes buf with a deadline between d/2 and d from now. The socket's
// deadline is moved only when the one already set falls outside that
// window: setting it re-arms a runtime timer, a measurable share of a
// loopback round trip, and back-to-back writes can share one deadline.
// Only the goroutine that holds the session's flushing token writes.
func (n *netIO) write(buf []byte, d time.Duration) (int, error) {
	now := time.Now()
	if left := n.wdl.Sub(now); left < d/2 || left > d {
		n.wdl = now.Add(d)
		if err := n.c.SetWriteDeadline(n.wdl); err != nil {
			return 0, err
		}
	}
	return n.c.Write(buf)
}

// errNoRawWrite: the platform has no non-blocking direct write.
var errNoRawWrite = errors.New("transport: no raw write")

// directWrite writes buf from a sending goroutine: on unix, what the socket
// takes at once (tryWrite); elsewhere, within directWriteBudget. Either way
// it may return having written only part of buf.
func (n *netIO) directWrite(buf []byte) (int, error) {
	if n.rw != nil {
		return n.rw.tryWrite(buf)
	}
	return n.write(buf, directWriteBudget)
}

func (n *netIO) flushLocked(s *session) error {
	buf := s.takeLocked()
	s.mu.Unlock()
	s.peer.ctr.writes.Add(1)
	k, err := n.directWrite(buf)
	s.mu.Lock()
	if (err == nil && k < len(buf)) || (err != nil && errors.Is(err, os.ErrDeadlineExceeded)) {
		// Hand the unwritten rest to the writer goroutine (flushing stays
		// set, keeping frame order).
		n.rest = buf[k:]
		s.mu.Unlock()
		n.signal()
		return nil
	}
	s.writtenLocked(buf)
	if err != nil {
		s.flushing = false
		s.mu.Unlock()
		s.fail(err)
		return fmt.Errorf("%w: %s: %v", ErrConnClosed, s.peer.addr, err)
	}
	if len(s.pend) == 0 {
		s.flushing = false
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	// More frames arrived while we wrote: the writer goroutine takes over
	// (flushing stays set), so this caller is not stuck writing for others.
	n.signal()
	return nil
}

func (n *netIO) signal() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

func (n *netIO) writeLoop(s *session) {
	defer s.ep.wg.Done()
	timeout := s.ep.cfg.WriteTimeout
	for {
		select {
		case <-n.kick:
		case <-s.done:
			return
		}
		s.mu.Lock()
		if rest := n.rest; rest != nil {
			n.rest = nil
			s.mu.Unlock()
			s.peer.ctr.writes.Add(1)
			_, err := n.write(rest, timeout)
			s.mu.Lock()
			s.writtenLocked(s.inflight)
			if err != nil {
				s.flushing = false
				s.mu.Unlock()
				s.fail(err)
				return
			}
		}
		for len(s.pend) > 0 && !s.closed {
			buf := s.takeLocked()
			s.mu.Unlock()
			s.peer.ctr.writes.Add(1)
			_, err := n.write(buf, timeout)
			s.mu.Lock()
			s.writtenLocked(buf)
			if err != nil {
				s.flushing = false
				s.mu.Unlock()
				s.fail(err)
				return
			}
		}
		s.flushing = false
		s.mu.Unlock()
	}
}

// readLoop is an accepted connection's reader: it reads until an error, or
// until it ran a handler for so long that a new reader took over.
//
// A request for a pooled handler that arrives when no further frame is
// buffered is run by the reader itself (runHere) instead of being handed to
// a pool worker: waking a worker costs about as much as a loopback round
// trip on these VMs. While such a handler runs, the slow timer (kept armed
// while handlers keep running on the reader) watches it; one still running after
// slowHandler..2×slowHandler gets a new reader started for the connection
// (watchSlow), so slow handlers cannot hold up the frames behind them for
// longer than that.
func (n *netIO) readLoop(s *session) {
	defer s.ep.wg.Done()
	for {
		err := n.fr.next(s)
		if t := n.handed; t != nil {
			n.handed = nil
			if !n.runHanded(s, t) {
				return // replaced while the handler ran
			}
		}
		if err == errInterrupted {
			_ = n.c.SetReadDeadline(time.Time{})
			continue
		}
		if err != nil {
			n.readFailed(s, err)
			return
		}
	}
}

// slowHandler is how long a handler may run on a connection's reader before
// it may be replaced (see readLoop).
const slowHandler = time.Millisecond

// runHere takes a request's task for the reader to run unless more frames
// are already buffered (those are better served in parallel by the pool).
func (n *netIO) runHere(t *task) bool {
	if n.fr.br.Buffered() > 0 {
		return false
	}
	n.handed = t
	return true
}

// runHanded runs a handler on the reader and reports whether this goroutine
// is still the connection's reader afterwards. busy goes odd for the run;
// the reader takes it back to even when the handler returns, unless
// watchSlow did so first, handing the connection to a new reader: the
// compare-and-swap decides which.
func (n *netIO) runHanded(s *session, t *task) bool {
	b := n.busy.Add(1) // odd: a handler runs
	if !n.slowArmed.Load() && n.slowArmed.CompareAndSwap(false, true) {
		n.slow.Reset(slowHandler)
	}
	func() {
		defer func() { _ = recover() }() // as the pool does: the caller times out
		s.ep.serve(t, true)
	}()
	s.ep.running.Add(-1)
	return n.busy.CompareAndSwap(b, b+1) // even: idle
}

// watchSlow runs on the slow timer: if the same handler has been running on
// the reader since the previous tick, it starts the next reader. The timer
// stays armed while handlers keep running on the reader and disarms after
// a tick without any, so a busy connection re-arms it from here rather than
// from the request path (arming a timer can wake the network poller).
func (n *netIO) watchSlow(s *session) {
	b := n.busy.Load()
	prev := n.slowSeen.Swap(b)
	if b == prev && b&1 == 0 { // no handler ran on the reader for a tick
		n.slowArmed.Store(false)
		// A handler may have started between the load and the store,
		// seeing the timer still armed.
		if n.busy.Load() == b || !n.slowArmed.CompareAndSwap(false, true) {
			return
		}
	}
	if b == prev && b&1 == 1 {
		s.pmu.Lock()
		// The old reader is inside runHanded (busy is odd), so it still
		// holds its share of the endpoint's WaitGroup. Winning the swap
		// makes it step down when its handler returns; the new reader
		// starts idle (busy even).
		if s.pending != nil && n.busy.CompareAndSwap(b, b+1) {
			s.ep.wg.Add(1)
			go n.readLoop(s)
		}
		s.pmu.Unlock()
	}
	n.slow.Reset(slowHandler)
}

// readFailed files a read error and fails the session.
func (n *netIO) readFailed(s *session, err error) {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		s.peer.ctr.errs.stalled.Add(1)
		err = fmt.Errorf("%w: peer stalled mid-frame: %v", ErrBadFrame, err)
	} else {
		countError(&s.peer.ctr.errs, err)
	}
	s.fail(err)
}

// watchLoop is a dialed connection's watcher: woken by a leader that left
// calls pending, or by the janitor on an idle connection, it takes the read
// role if nobody holds it and reads until no call is pending after a frame
// (an idle connection: until the next response or the peer's close).
func (n *netIO) watchLoop(s *session) {
	defer s.ep.wg.Done()
	for {
		select {
		case <-n.wake:
		case <-s.done:
			return
		}
		s.pmu.Lock()
		if s.reader == readerNone && s.pending != nil {
			s.reader = readerLoop
		}
		mine := s.reader == readerLoop
		s.pmu.Unlock()
		for mine {
			err := n.fr.next(s)
			if err == errInterrupted { // left over from a cancelled leader
				_ = n.c.SetReadDeadline(time.Time{})
				continue
			}
			if err != nil {
				n.readFailed(s, err)
				return
			}
			s.pmu.Lock()
			if len(s.pending) == 0 {
				s.reader = readerNone
				mine = false
			}
			s.pmu.Unlock()
		}
	}
}

// leaderIO is implemented by engines whose callers can read their own
// responses.
type leaderIO interface {
	lead(ctx context.Context, s *session, id uint64, c *call) result
	watch()
}

// watch asks the watcher of a dialed connection to read while it is idle.
func (n *netIO) watch() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// tryLead gives the read role to call c if nobody holds it.
func (s *session) tryLead(c *call) bool {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	if s.reader != readerNone || s.pending == nil {
		return false
	}
	s.reader, s.leader = readerCaller, c
	return true
}

// aLongTimeAgo is a read deadline that interrupts a blocked read at once.
var aLongTimeAgo = time.Unix(1, 0)

// lead reads frames, holding the read role, until call c (request id) has
// its result or ctx ends, then passes the role on.
func (n *netIO) lead(ctx context.Context, s *session, id uint64, c *call) result {
	// A leader whose context can end arranges to be interrupted, but only
	// while it waits between frames (s.leaderWaits): a deadline mid-frame
	// would look like a stalled peer. It checks ctx at every frame boundary.
	var stop func() bool
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() {
			s.pmu.Lock()
			if s.leader == c && s.leaderWaits {
				_ = n.c.SetReadDeadline(aLongTimeAgo)
			}
			s.pmu.Unlock()
		})
	}
	setWaits := func(v bool) {
		if stop != nil {
			s.pmu.Lock()
			s.leaderWaits = v
			s.pmu.Unlock()
		}
	}
	var r result
loop:
	for {
		if c.has { // read by this goroutine (session.onFrame)
			r = c.own
			break
		}
		select {
		case r = <-c.ch:
			break loop
		default:
			setWaits(true)
			if err := ctx.Err(); err != nil {
				if !s.removePending(id) {
					r = <-c.ch // delivered meanwhile (by fail); drop it
				}
				r = result{err: err}
				break loop
			}
			err := n.fr.wait()
			setWaits(false)
			if err == errInterrupted {
				_ = n.c.SetReadDeadline(time.Time{})
				continue
			}
			if err == nil {
				err = n.fr.read(s)
			}
			if err != nil {
				n.readFailed(s, err) // fails every pending call, c included
				r = <-c.ch
				break loop
			}
		}
	}
	s.pmu.Lock()
	s.leader, s.leaderWaits = nil, false
	handOff := false
	if len(s.pending) > 0 {
		s.reader, handOff = readerLoop, true
	} else {
		s.reader = readerNone
	}
	if stop != nil && ctx.Err() != nil {
		_ = n.c.SetReadDeadline(time.Time{}) // undo an interrupt not yet consumed
	}
	s.pmu.Unlock()
	if stop != nil {
		stop()
	}
	if handOff {
		n.watch()
	}
	return r
}

// errInterrupted reports a read deadline that expired between frames: the
// interrupt of a leader whose context ended.
var errInterrupted = errors.New("transport: read interrupted")

// frameReader reads one frame at a time from a connection for whoever holds
// the session's read role.
type frameReader struct {
	cork   bool // accepted connections: batch the responses (setCork)
	corked bool // the value last passed to setCork (saves the lock when unchanged)
	c      net.Conn
	br     *bufio.Reader
	sealed []byte
}

func (f *frameReader) init(c net.Conn, s *session) {
	f.c = c
	f.br = bufio.NewReaderSize(c, 64<<10)
}

// next reads one frame and routes it. Between frames it waits without a
// deadline (idle connections are the janitor's business), so a deadline
// error there is an interrupt (errInterrupted); once a frame has started
// and is not fully buffered, the rest must arrive within FrameTimeout.
func (f *frameReader) next(s *session) error {
	if err := f.wait(); err != nil {
		return err
	}
	return f.read(s)
}

// wait blocks until a frame starts.
func (f *frameReader) wait() error {
	if _, err := f.br.Peek(1); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return errInterrupted
		}
		return err
	}
	return nil
}

// read reads and routes the frame that wait saw start.
func (f *frameReader) read(s *session) error {
	cfg := &s.ep.cfg
	br := f.br
	armed := false
	arm := func(want int) error {
		if armed || br.Buffered() >= want {
			return nil
		}
		armed = true
		return f.c.SetReadDeadline(time.Now().Add(cfg.FrameTimeout))
	}
	var (
		h   Header
		dst []byte
		t   *task
	)
	if s.cs == nil {
		if err := arm(HeaderSize); err != nil {
			return err
		}
		hb, err := br.Peek(HeaderSize)
		if err != nil {
			return err
		}
		if h, err = DecodeHeader(hb, cfg.MaxFrameSize); err != nil {
			return err
		}
		_, _ = br.Discard(HeaderSize)
		if err := arm(int(h.Length)); err != nil {
			return err
		}
		dst, t = s.inbound(h)
		if _, err := io.ReadFull(br, dst); err != nil {
			if t != nil {
				s.ep.releaseTask(t)
			}
			return err
		}
	} else {
		if err := arm(4); err != nil {
			return err
		}
		lb, err := br.Peek(4)
		if err != nil {
			return err
		}
		size := int(binary.BigEndian.Uint32(lb))
		if err := checkSealedSize(size, cfg.MaxFrameSize); err != nil {
			return err
		}
		_, _ = br.Discard(4)
		if err := arm(size); err != nil {
			return err
		}
		if cap(f.sealed) < size {
			f.sealed = make([]byte, size)
		}
		sealed := f.sealed[:size]
		if _, err := io.ReadFull(br, sealed); err != nil {
			return err
		}
		pt, err := s.cs.open(sealed)
		if err != nil {
			return err
		}
		if h, err = DecodeHeader(pt, cfg.MaxFrameSize); err != nil {
			return err
		}
		if len(pt) != HeaderSize+int(h.Length) {
			return fmt.Errorf("%w: sealed length mismatch", ErrBadFrame)
		}
		dst, t = s.inbound(h)
		copy(dst, pt[HeaderSize:])
		if cap(f.sealed) > 1<<20 {
			f.sealed = nil
		}
	}
	if armed {
		if err := f.c.SetReadDeadline(time.Time{}); err != nil {
			return err
		}
	}
	if f.cork {
		if v := f.nextComplete(s); v != f.corked {
			f.corked = v
			s.setCork(v)
		}
	}
	s.onFrame(h, dst, t)
	return nil
}

// nextComplete reports whether another whole frame is already buffered, so
// that reading it will not block.
func (f *frameReader) nextComplete(s *session) bool {
	b := f.br.Buffered()
	if s.cs == nil {
		if b < HeaderSize {
			return false
		}
		hb, _ := f.br.Peek(HeaderSize)
		h, err := DecodeHeader(hb, s.ep.cfg.MaxFrameSize)
		return err == nil && b >= HeaderSize+int(h.Length)
	}
	if b < 4 {
		return false
	}
	lb, _ := f.br.Peek(4)
	return b >= 4+int(binary.BigEndian.Uint32(lb))
}
