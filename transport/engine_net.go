package transport

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

// netEngine drives each connection with a reader goroutine and a writer
// goroutine from the standard library. When no write is in progress the
// sending goroutine writes itself (no hand-off on the uncontended path);
// frames queued meanwhile are written by the writer goroutine in one go.
type netEngine struct{ ep *Endpoint }

type netIO struct {
	c    net.Conn
	kick chan struct{}
	rest []byte // unwritten tail of s.inflight, for the writer (under s.mu)
}

func (e *netEngine) attach(s *session, c net.Conn) error {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	nio := &netIO{c: c, kick: make(chan struct{}, 1)}
	s.mu.Lock()
	s.io = nio
	closed := s.closed
	s.mu.Unlock()
	if closed {
		c.Close()
		return ErrClosed
	}
	e.ep.wg.Add(2)
	go nio.readLoop(s)
	go nio.writeLoop(s)
	return nil
}

func (e *netEngine) close() {}

func (n *netIO) closeConn() { n.c.Close() }

// directWriteBudget bounds how long a sending goroutine writes itself; a
// socket that does not take the bytes by then (a slow peer) gets the rest
// written by the writer goroutine, so callers never block beyond their
// context.
const directWriteBudget = 2 * time.Millisecond

func (n *netIO) write(buf []byte, d time.Duration) (int, error) {
	if err := n.c.SetWriteDeadline(time.Now().Add(d)); err != nil {
		return 0, err
	}
	return n.c.Write(buf)
}

func (n *netIO) flushLocked(s *session) error {
	buf := s.takeLocked()
	s.mu.Unlock()
	s.peer.ctr.writes.Add(1)
	k, err := n.write(buf, directWriteBudget)
	s.mu.Lock()
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
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

func (n *netIO) readLoop(s *session) {
	defer s.ep.wg.Done()
	err := n.readFrames(s)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		s.peer.ctr.errs.stalled.Add(1)
		err = fmt.Errorf("%w: peer stalled mid-frame: %v", ErrBadFrame, err)
	} else {
		countError(&s.peer.ctr.errs, err)
	}
	s.fail(err)
}

// readFrames reads until an error. Between frames it waits without a
// deadline (idle connections are the janitor's business); once a frame has
// started and is not fully buffered, the rest must arrive within
// FrameTimeout.
func (n *netIO) readFrames(s *session) error {
	cfg := &s.ep.cfg
	br := bufio.NewReaderSize(n.c, 64<<10)
	var sealed []byte
	for {
		if _, err := br.Peek(1); err != nil {
			return err
		}
		armed := false
		arm := func(want int) error {
			if armed || br.Buffered() >= want {
				return nil
			}
			armed = true
			return n.c.SetReadDeadline(time.Now().Add(cfg.FrameTimeout))
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
			if cap(sealed) < size {
				sealed = make([]byte, size)
			}
			sealed = sealed[:size]
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
			if cap(sealed) > 1<<20 {
				sealed = nil
			}
		}
		if armed {
			if err := n.c.SetReadDeadline(time.Time{}); err != nil {
				return err
			}
		}
		s.onFrame(h, dst, t)
	}
}
