package transport

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// session is one connection, whichever engine drives its I/O. Outbound
// frames are appended to pend under mu; whoever finds no flush running
// becomes the flusher (flushLocked), so frames queued by many goroutines
// while a write is in progress leave in one syscall.
type session struct {
	ep     *Endpoint
	peer   *peer
	cs     *cipherState
	dialer bool
	slot   *slot // nil for accepted connections
	io     sessionIO

	mu       sync.Mutex
	pend     []byte // frames waiting for the next write
	spare    []byte // free buffer swapped in when pend is taken
	inflight []byte // buffer being written (gnet)
	flushing bool
	corked   bool // hold frames: the reader has more requests buffered (setCork)
	closed   bool
	closeErr error
	spaceCh  chan struct{} // closed when pend drains; senders wait on it
	done     chan struct{} // closed by fail

	nextID  atomic.Uint64
	pmu     sync.Mutex
	pending map[uint64]*call // nil once the session failed
	reader  int              // who holds the read role (net engine)
	// runHere, if set, may take a request's task for the goroutine that
	// read it to run (accepted net connections); set before reading.
	runHere func(t *task) bool
	leader  *call // the call leading, when reader == readerCaller
	// leaderWaits: the leader waits between frames and may be interrupted.
	leaderWaits bool

	active       atomic.Bool  // a message went in or out since the janitor last looked
	partialSince atomic.Int64 // unix nanos since a partial frame sat unread (gnet)
	sweepAt      time.Time    // janitor-only
}

// sessionIO is the engine-specific part of a session.
type sessionIO interface {
	// flushLocked is called with s.mu held and s.flushing just set; it
	// must release s.mu and eventually write pend and clear flushing.
	flushLocked(s *session) error
	// closeConn closes the socket; called once, from fail.
	closeConn()
}

// call is a request waiting for its response: delivered on ch, or, when
// the goroutine that reads the response is the call's own (it leads, see
// netIO.lead), stored in own without a channel hand-off.
type call struct {
	ch  chan result
	own result
	has bool // own holds the result (written and read by the leader only)
}

type result struct {
	payload []byte
	err     error
}

// task carries one inbound request to the handler pool.
type task struct {
	s   *session
	h   Header
	fn  Handler
	buf []byte
}

const maxPooledTaskBuf = 64 << 10

func newSession(ep *Endpoint, p *peer, cs *cipherState, dialer bool) *session {
	return &session{
		ep: ep, peer: p, cs: cs, dialer: dialer,
		done:    make(chan struct{}),
		pending: make(map[uint64]*call),
	}
}

func (s *session) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// idle reports whether nothing is in flight or queued.
func (s *session) idle() bool {
	s.pmu.Lock()
	n := len(s.pending)
	s.pmu.Unlock()
	s.mu.Lock()
	busy := s.flushing || len(s.pend) > 0
	s.mu.Unlock()
	return n == 0 && !busy
}

func (s *session) addPending(id uint64, c *call) bool {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	if s.pending == nil {
		return false
	}
	s.pending[id] = c
	return true
}

// removePending reports whether the call was still pending; if not, a
// result has been or is about to be sent on its channel.
func (s *session) removePending(id uint64) bool {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	if _, ok := s.pending[id]; ok {
		delete(s.pending, id)
		return true
	}
	return false
}

// touch records activity for idle detection. Loading first keeps the
// common case (already marked) free of an atomic write per message.
func (s *session) touch() {
	if !s.active.Load() {
		s.active.Store(true)
	}
}

// frameSize is the wire size of a frame with n payload bytes.
func (s *session) frameSize(n int) int {
	if s.cs != nil {
		return 4 + HeaderSize + n + gcmTag
	}
	return HeaderSize + n
}

// enqueue appends a frame to the outbound buffer and makes sure a flush
// runs. With block, a full queue waits for space until ctx ends; without,
// it fails at once with ErrOverloaded (used where waiting could deadlock:
// replies sent from a reader or event loop).
func (s *session) enqueue(ctx context.Context, h Header, payload []byte, block bool) error {
	need := s.frameSize(len(payload))
	limit := s.ep.cfg.OutboundQueueBytes
	s.mu.Lock()
	for {
		if s.closed {
			err := s.closeErr
			s.mu.Unlock()
			return fmt.Errorf("%w: %s: %v", ErrConnClosed, s.peer.addr, err)
		}
		if len(s.pend) == 0 || len(s.pend)+need <= limit {
			break
		}
		if s.corked && !s.flushing {
			// The queue holds bytes only because of the cork, not because
			// the socket is slow: write them now and look again.
			s.flushing = true
			_ = s.io.flushLocked(s) // unlocks; a failure fails the session
			s.mu.Lock()
			continue
		}
		if !block {
			s.mu.Unlock()
			return fmt.Errorf("%w: outbound queue to %s full", ErrOverloaded, s.peer.addr)
		}
		if s.spaceCh == nil {
			s.spaceCh = make(chan struct{})
		}
		ch := s.spaceCh
		s.mu.Unlock()
		select {
		case <-ch:
		case <-s.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		s.mu.Lock()
	}
	if s.cs != nil {
		s.pend = s.cs.appendSealed(s.pend, h, payload)
	} else {
		s.pend = AppendFrame(s.pend, h, payload)
	}
	s.touch()
	if s.flushing || (s.corked && len(s.pend) < maxCorked) {
		s.mu.Unlock()
		return nil
	}
	s.flushing = true
	return s.io.flushLocked(s)
}

// maxCorked is how many bytes a cork holds back before they are written
// anyway.
const maxCorked = 64 << 10

// setCork holds queued frames back while the reader has more complete
// requests buffered, so that the responses of inline handlers to a batch of
// requests leave in one write instead of one each; uncorking flushes what
// queued meanwhile.
func (s *session) setCork(v bool) {
	s.mu.Lock()
	s.corked = v
	if v || s.flushing || s.closed || len(s.pend) == 0 {
		s.mu.Unlock()
		return
	}
	s.flushing = true
	_ = s.io.flushLocked(s) // a failure fails the session
}

// takeLocked swaps out the pending buffer for writing and wakes senders
// waiting for queue space.
func (s *session) takeLocked() []byte {
	out := s.pend
	s.pend = s.spare[:0]
	s.spare = nil
	s.inflight = out
	if s.spaceCh != nil {
		close(s.spaceCh)
		s.spaceCh = nil
	}
	return out
}

// writtenLocked returns a written buffer for reuse.
func (s *session) writtenLocked(buf []byte) {
	s.inflight = nil
	if cap(buf) <= 1<<20 {
		s.spare = buf[:0]
	}
}

// fail closes the session once: the socket is closed, pending calls fail
// with ErrConnClosed and the slot is freed for a reconnect.
func (s *session) fail(cause error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.closeErr = cause
	close(s.done)
	if s.spaceCh != nil {
		close(s.spaceCh)
		s.spaceCh = nil
	}
	sio := s.io
	s.mu.Unlock()
	if s.slot != nil {
		s.slot.s.CompareAndSwap(s, nil)
	}
	if sio != nil {
		sio.closeConn()
	}
	s.pmu.Lock()
	pending := s.pending
	s.pending = nil
	s.pmu.Unlock()
	if len(pending) > 0 {
		err := fmt.Errorf("%w: %s: %v", ErrConnClosed, s.peer.addr, cause)
		for _, c := range pending {
			c.ch <- result{err: err}
		}
	}
	s.ep.removeSession(s)
}

// inbound returns where to put the payload of a frame with header h:
// responses get a fresh slice (handed to the caller), requests a pooled
// task buffer (recycled after the handler ran).
func (s *session) inbound(h Header) ([]byte, *task) {
	n := int(h.Length)
	if h.isResponse() {
		return make([]byte, n), nil
	}
	t := s.ep.taskPool.Get().(*task)
	if cap(t.buf) < n {
		t.buf = make([]byte, n)
	}
	t.buf = t.buf[:n]
	return t.buf, t
}

// onFrame routes a complete inbound frame. It never blocks: it runs on a
// reader goroutine or a gnet event loop.
func (s *session) onFrame(h Header, payload []byte, t *task) {
	s.touch()
	s.peer.ctr.In(len(payload))
	if h.isResponse() {
		s.pmu.Lock()
		c, ok := s.pending[h.ID]
		if ok {
			delete(s.pending, h.ID)
		}
		// The leader is the goroutine running this: its own response
		// needs no channel.
		self := ok && s.reader == readerCaller && s.leader == c
		s.pmu.Unlock()
		if !ok {
			s.peer.ctr.Late()
			return
		}
		r := result{payload: payload}
		if h.Flags&FlagError != 0 {
			r = result{err: ParseErrorPayload(payload)}
		}
		if self {
			c.own, c.has = r, true
		} else {
			c.ch <- r
		}
		return
	}
	he := s.ep.handler(h.Type)
	fn := he.fn
	if fn == nil {
		s.ep.releaseTask(t)
		s.peer.ctr.errs.unknownType.Add(1)
		s.reject(h, CodeUnknownType, fmt.Sprintf("no handler for type %d", h.Type))
		return
	}
	t.s, t.h, t.fn = s, h, fn
	if he.inline {
		s.ep.serve(t, false)
		return
	}
	if s.ep.running.Add(1) > int64(s.ep.cfg.HandlerPoolSize) {
		s.ep.running.Add(-1)
		s.ep.releaseTask(t)
		s.peer.ctr.errs.overloaded.Add(1)
		s.reject(h, CodeOverloaded, "handler pool saturated")
		return
	}
	if s.runHere != nil && s.runHere(t) {
		return // the reader runs it next (netIO.readLoop)
	}
	if err := s.ep.pool.Invoke(t); err != nil {
		s.ep.running.Add(-1)
		s.ep.releaseTask(t)
		s.peer.ctr.errs.overloaded.Add(1)
		s.reject(h, CodeOverloaded, "handler pool saturated")
	}
}

// reject answers a request with an error without blocking; if even that
// cannot be queued the caller times out.
func (s *session) reject(h Header, code uint16, msg string) {
	if !h.isRequest() {
		return
	}
	var buf [64]byte
	p := AppendErrorPayload(buf[:0], code, msg)
	_ = s.enqueue(context.Background(), Header{Flags: FlagResponse | FlagError, Type: h.Type, ID: h.ID}, p, false)
}

func (ep *Endpoint) releaseTask(t *task) {
	t.s, t.fn = nil, nil
	if cap(t.buf) > maxPooledTaskBuf {
		t.buf = nil
	}
	ep.taskPool.Put(t)
}

// runTask runs a handler on the pool and sends its response. A handler's
// panic is recovered by the pool (the caller times out).
func (ep *Endpoint) runTask(arg any) {
	defer ep.running.Add(-1)
	ep.serve(arg.(*task), true)
}

// serve runs a handler and queues its response. Pool workers may wait for
// queue space; inline handlers (reader or event loop) must not, so a full
// queue drops the response (counted as overload; the caller times out).
func (ep *Endpoint) serve(t *task, block bool) {
	s, h := t.s, t.h
	resp, err := t.fn(ep.ctx, s.peer.addr, t.buf)
	// The response may alias the request buffer (an echo): release the
	// task only once the response has been copied into the queue.
	defer ep.releaseTask(t)
	if !h.isRequest() {
		return
	}
	rh := Header{Flags: FlagResponse, Type: h.Type, ID: h.ID}
	if err == nil && len(resp) > ep.cfg.MaxFrameSize {
		s.peer.ctr.errs.tooLarge.Add(1)
		err = fmt.Errorf("%w: response %d > %d", ErrFrameTooLarge, len(resp), ep.cfg.MaxFrameSize)
	}
	if err != nil {
		code, msg := remoteErrorFrom(err)
		rh.Flags |= FlagError
		resp = AppendErrorPayload(nil, code, msg)
	}
	switch err := s.enqueue(ep.ctx, rh, resp, block); {
	case err == nil:
		s.peer.ctr.Out(len(resp))
	case errors.Is(err, ErrOverloaded):
		s.peer.ctr.errs.overloaded.Add(1)
	}
}
