package gridkv

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"time"

	"github.com/gridkv/gridkv/swim"
	"github.com/gridkv/gridkv/transport"
)

// swimNet adapts the node's transport to swim.Transport, so that gossip and
// data share one address, one connection pool, one cluster key and one
// fault-injection point.
//
// Packets map onto the transport's datagrams. Streams are tunnelled over
// request/response calls as a half-duplex conversation: the dialer's writes
// are buffered until it reads (or closes), then sent as one call; the
// acceptor's reply is whatever it wrote before it next blocked reading (or
// closed). swim's push-pull and stream probes are turn-based exchanges of
// whole frames, which this carries exactly.
type swimNet struct {
	tr      transport.Transport
	timeout time.Duration // bound on one turn

	packets chan swim.Packet
	streams chan net.Conn

	mu       sync.Mutex
	sessions map[uint64]*serverConn
	closed   bool
	done     chan struct{}
}

// Stream call framing: request = session(8) | flags(1) | data;
// response = flags(1) | data.
const (
	streamOpen  = 1 << 0 // request: first turn of a session
	streamEOF   = 1 << 1 // request: the dialer closed its side
	streamFinal = 1 << 0 // response: the acceptor closed the stream
)

// errStreamSession is returned to a dialer whose session the acceptor no
// longer knows (it timed out or the acceptor restarted).
var errStreamSession = errors.New("gridkv: unknown stream session")

func newSwimNet(tr transport.Transport, timeout time.Duration) (*swimNet, error) {
	s := &swimNet{
		tr:       tr,
		timeout:  timeout,
		packets:  make(chan swim.Packet, 1024),
		streams:  make(chan net.Conn, 64),
		sessions: make(map[uint64]*serverConn),
		done:     make(chan struct{}),
	}
	if err := tr.Handle(msgStream, s.handleStream); err != nil {
		return nil, err
	}
	tr.HandlePackets(s.onPacket)
	return s, nil
}

func (s *swimNet) Addr() string { return s.tr.Addr() }

func (s *swimNet) WritePacket(b []byte, addr string) error { return s.tr.SendPacket(addr, b) }

func (s *swimNet) Packets() <-chan swim.Packet { return s.packets }

func (s *swimNet) Streams() <-chan net.Conn { return s.streams }

func (s *swimNet) onPacket(from string, pkt []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	select {
	case s.packets <- swim.Packet{Data: append([]byte(nil), pkt...), From: from, At: time.Now()}:
	default: // full: drop, as the network would
	}
}

// Close stops delivering packets and streams. It leaves the transport open:
// the Node owns it.
func (s *swimNet) Close() error {
	s.tr.HandlePackets(nil)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	close(s.done)
	close(s.packets)
	close(s.streams)
	sessions := s.sessions
	s.sessions = make(map[uint64]*serverConn)
	s.mu.Unlock()
	for _, c := range sessions {
		c.Close() // calls forget, which takes s.mu
	}
	s.mu.Lock() // for the deferred Unlock
	return nil
}

func (s *swimNet) DialStream(ctx context.Context, addr string) (net.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &clientConn{net: s, addr: addr, session: rand.Uint64() | 1}, nil
}

// handleStream serves one turn of a tunnelled stream.
func (s *swimNet) handleStream(ctx context.Context, from string, payload []byte) ([]byte, error) {
	if len(payload) < 9 {
		return nil, fmt.Errorf("%w: stream frame of %d bytes", errBadMessage, len(payload))
	}
	id, flags, data := binary.BigEndian.Uint64(payload), payload[8], payload[9:]
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	c := s.sessions[id]
	if c == nil {
		if flags&streamOpen == 0 {
			s.mu.Unlock()
			return nil, errStreamSession
		}
		c = newServerConn(s, id, from)
		select {
		case s.streams <- c:
		default:
			s.mu.Unlock()
			return nil, transport.ErrOverloaded
		}
		s.sessions[id] = c
	}
	s.mu.Unlock()

	c.deliver(data, flags&streamEOF != 0)
	out, final, err := c.awaitTurn(ctx, s.timeout)
	if err != nil {
		c.Close()
		return nil, err
	}
	resp := make([]byte, 1, 1+len(out))
	if final {
		resp[0] = streamFinal
	}
	return append(resp, out...), nil
}

func (s *swimNet) forget(id uint64) {
	s.mu.Lock()
	delete(s.sessions, id)
	s.mu.Unlock()
}

type streamAddr string

func (a streamAddr) Network() string { return "gridkv" }
func (a streamAddr) String() string  { return string(a) }

// serverConn is the acceptor's end of a tunnelled stream.
type serverConn struct {
	net  *swimNet
	id   uint64
	from string

	mu       sync.Mutex
	in       []byte
	eof      bool // the dialer closed its side
	out      []byte
	closed   bool
	waiting  bool // blocked in Read with nothing to read
	deadline time.Time
	wake     chan struct{} // input arrived or the stream closed
	turn     chan struct{} // the acceptor blocked reading or closed
}

func newServerConn(s *swimNet, id uint64, from string) *serverConn {
	return &serverConn{net: s, id: id, from: from, wake: make(chan struct{}, 1), turn: make(chan struct{}, 1)}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (c *serverConn) deliver(data []byte, eof bool) {
	c.mu.Lock()
	c.in = append(c.in, data...)
	c.eof = c.eof || eof
	c.mu.Unlock()
	signal(c.wake)
}

// awaitTurn waits until the acceptor has consumed the input and blocks
// reading again (its turn is over) or closes, and returns what it wrote.
func (c *serverConn) awaitTurn(ctx context.Context, timeout time.Duration) ([]byte, bool, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		c.mu.Lock()
		if c.closed || (c.waiting && len(c.in) == 0 && !c.eof) {
			out, final := c.out, c.closed
			c.out = nil
			c.mu.Unlock()
			return out, final, nil
		}
		c.mu.Unlock()
		select {
		case <-c.turn:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		case <-t.C:
			return nil, false, os.ErrDeadlineExceeded
		}
	}
}

func (c *serverConn) Read(p []byte) (int, error) {
	for {
		c.mu.Lock()
		switch {
		case len(c.in) > 0:
			n := copy(p, c.in)
			c.in = c.in[n:]
			c.mu.Unlock()
			return n, nil
		case c.closed:
			c.mu.Unlock()
			return 0, net.ErrClosed
		case c.eof:
			c.mu.Unlock()
			return 0, io.EOF
		}
		dl := c.deadline
		c.waiting = true
		c.mu.Unlock()
		signal(c.turn)

		if err := c.waitInput(dl); err != nil {
			return 0, err
		}
	}
}

// waitInput blocks until input arrives, the stream closes, or the deadline.
func (c *serverConn) waitInput(dl time.Time) error {
	defer c.setWaiting(false)
	if dl.IsZero() {
		<-c.wake
		return nil
	}
	d := time.Until(dl)
	if d <= 0 {
		return os.ErrDeadlineExceeded
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.wake:
		return nil
	case <-t.C:
		return os.ErrDeadlineExceeded
	}
}

func (c *serverConn) setWaiting(w bool) {
	c.mu.Lock()
	c.waiting = w
	c.mu.Unlock()
}

func (c *serverConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	c.out = append(c.out, p...)
	return len(p), nil
}

func (c *serverConn) Close() error {
	c.mu.Lock()
	already := c.closed
	c.closed = true
	c.mu.Unlock()
	if !already {
		c.net.forget(c.id)
	}
	signal(c.turn)
	signal(c.wake)
	return nil
}

func (c *serverConn) LocalAddr() net.Addr  { return streamAddr(c.net.Addr()) }
func (c *serverConn) RemoteAddr() net.Addr { return streamAddr(c.from) }
func (c *serverConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	signal(c.wake) // a blocked Read re-reads the deadline
	return nil
}
func (c *serverConn) SetReadDeadline(t time.Time) error { return c.SetDeadline(t) }
func (c *serverConn) SetWriteDeadline(time.Time) error  { return nil }

// clientConn is the dialer's end of a tunnelled stream. It is used by one
// goroutine at a time, as swim uses its streams.
type clientConn struct {
	net     *swimNet
	addr    string
	session uint64

	mu       sync.Mutex
	out      []byte
	in       []byte
	opened   bool
	final    bool // the acceptor closed
	closed   bool
	deadline time.Time
}

// flush sends the buffered writes as one turn and stores the reply.
func (c *clientConn) flush(eof bool) error {
	c.mu.Lock()
	req := make([]byte, 9, 9+len(c.out))
	binary.BigEndian.PutUint64(req, c.session)
	if !c.opened {
		req[8] |= streamOpen
	}
	if eof {
		req[8] |= streamEOF
	}
	req = append(req, c.out...)
	c.out = c.out[:0]
	c.opened = true
	dl := c.deadline
	c.mu.Unlock()

	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if !dl.IsZero() {
		ctx, cancel = context.WithDeadline(ctx, dl)
	} else {
		ctx, cancel = context.WithTimeout(ctx, c.net.timeout)
	}
	defer cancel()
	resp, err := c.net.tr.Call(ctx, c.addr, msgStream, req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return os.ErrDeadlineExceeded
		}
		return err
	}
	if len(resp) < 1 {
		return fmt.Errorf("%w: empty stream reply", errBadMessage)
	}
	c.mu.Lock()
	c.final = resp[0]&streamFinal != 0
	c.in = append(c.in, resp[1:]...)
	c.mu.Unlock()
	return nil
}

func (c *clientConn) Read(p []byte) (int, error) {
	for {
		c.mu.Lock()
		switch {
		case c.closed:
			c.mu.Unlock()
			return 0, net.ErrClosed
		case len(c.in) > 0:
			n := copy(p, c.in)
			c.in = c.in[n:]
			c.mu.Unlock()
			return n, nil
		case c.final:
			c.mu.Unlock()
			return 0, io.EOF
		}
		pending := len(c.out) > 0 || !c.opened
		c.mu.Unlock()
		if !pending {
			// Both sides would wait for each other.
			return 0, fmt.Errorf("%w: read with nothing sent", errBadMessage)
		}
		if err := c.flush(false); err != nil {
			return 0, err
		}
	}
}

func (c *clientConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	c.out = append(c.out, p...)
	return len(p), nil
}

// Close delivers any unsent writes (with end-of-stream) so the acceptor sees
// the dialer's last turn, then releases the stream.
func (c *clientConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	needFlush := c.opened && !c.final || len(c.out) > 0
	c.mu.Unlock()
	var err error
	if needFlush {
		err = c.flush(true)
	}
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return err
}

func (c *clientConn) LocalAddr() net.Addr  { return streamAddr(c.net.Addr()) }
func (c *clientConn) RemoteAddr() net.Addr { return streamAddr(c.addr) }
func (c *clientConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return nil
}
func (c *clientConn) SetReadDeadline(t time.Time) error { return c.SetDeadline(t) }
func (c *clientConn) SetWriteDeadline(time.Time) error  { return nil }
