package transport

import (
	"errors"
	"fmt"
	"runtime"
	"time"
)

// Engine selects the socket engine behind a Transport.
type Engine int

const (
	// EngineNet uses the standard library: a reader goroutine per
	// connection and writes coalesced by the calling goroutines.
	EngineNet Engine = iota
	// EngineGnet uses gnet/v2 event loops for connection I/O.
	EngineGnet
)

// String returns "net" or "gnet".
func (e Engine) String() string {
	switch e {
	case EngineNet:
		return "net"
	case EngineGnet:
		return "gnet"
	}
	return fmt.Sprintf("Engine(%d)", int(e))
}

// ErrInvalidConfig is wrapped by every error from Config.Validate.
var ErrInvalidConfig = errors.New("transport: invalid config")

// Config configures a Transport. Start from DefaultConfig.
type Config struct {
	// ListenAddr is the "host:port" the transport listens on (TCP, and UDP
	// for packets on the same port). Port 0 picks a free port.
	ListenAddr string
	// AdvertiseAddr is the address peers should use to reach this node and
	// the "from" seen by their handlers. Empty means the bound address.
	AdvertiseAddr string
	// Engine selects EngineNet or EngineGnet.
	Engine Engine

	// MaxFrameSize bounds a frame payload in both directions. A larger
	// local payload fails with ErrFrameTooLarge; a peer announcing a larger
	// one has its connection closed.
	MaxFrameSize int
	// ConnsPerPeer is how many connections calls to one peer are spread
	// over (round robin).
	ConnsPerPeer int
	// EventLoops is how many gnet event loops serve this endpoint's
	// connections (EngineGnet only). Zero means one per four cores
	// (GOMAXPROCS/4, at least one). An event loop waits in epoll_wait, a
	// system call the Go scheduler does not see through: with more loops
	// than the cores can spare, goroutines queue behind them, and on 2
	// cores GOMAXPROCS loops per endpoint gave 3-node quorum writes a p99
	// of 4.5-14 ms where one loop gave 2.3 ms, at the same throughput.
	EventLoops int
	// DialTimeout bounds dial plus handshake.
	DialTimeout time.Duration
	// IdleTimeout closes a connection that carried no message and had no
	// call in flight for this long. Zero disables idle closing.
	IdleTimeout time.Duration
	// FrameTimeout bounds how long a peer may take to deliver the rest of
	// a frame once its first byte arrived; a peer that sends half a frame
	// and stalls is disconnected after it.
	FrameTimeout time.Duration
	// WriteTimeout bounds one socket write; a peer that does not drain its
	// socket for this long is disconnected (EngineNet).
	WriteTimeout time.Duration
	// BackoffBase and BackoffMax shape reconnect backoff: after the n-th
	// consecutive failed dial to a connection slot, calls fail fast with
	// ErrDial for a random duration in [d/2, d], d = min(BackoffMax,
	// BackoffBase*2^(n-1)).
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// HandlerPoolSize bounds concurrently running handlers. When all are
	// busy, a call is answered with ErrOverloaded instead of queueing.
	HandlerPoolSize int
	// OutboundQueueBytes bounds bytes queued for one connection and not
	// yet handed to the kernel. Senders beyond it wait (until their
	// context ends) - this is the backpressure for slow peers.
	OutboundQueueBytes int

	// Key, if set, turns on mutual authentication and encryption of every
	// connection and packet: AES-GCM with per-connection keys derived by
	// HKDF-SHA256 from Key. All peers must share the same Key; it must be
	// 16, 24 or 32 bytes.
	Key []byte

	// Packets enables the UDP packet endpoint on the listen port.
	Packets bool
	// MaxPacketSize bounds one packet payload.
	MaxPacketSize int

	// Seed seeds the backoff jitter; 0 picks a random seed.
	Seed uint64
}

// DefaultConfig returns a config for a transport on 127.0.0.1 with an
// ephemeral port, the standard library engine and no encryption.
func DefaultConfig() Config {
	return Config{
		ListenAddr:         "127.0.0.1:0",
		Engine:             EngineNet,
		MaxFrameSize:       4 << 20,
		ConnsPerPeer:       2,
		DialTimeout:        5 * time.Second,
		IdleTimeout:        5 * time.Minute,
		FrameTimeout:       10 * time.Second,
		WriteTimeout:       10 * time.Second,
		BackoffBase:        50 * time.Millisecond,
		BackoffMax:         5 * time.Second,
		HandlerPoolSize:    1024,
		OutboundQueueBytes: 8 << 20,
		Packets:            true,
		MaxPacketSize:      1400,
	}
}

// eventLoops resolves EventLoops' default.
func (c Config) eventLoops() int {
	if c.EventLoops > 0 {
		return c.EventLoops
	}
	return max(1, runtime.GOMAXPROCS(0)/4)
}

// Validate reports the first invalid field, wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, a...)...)
	}
	switch {
	case c.ListenAddr == "":
		return bad("ListenAddr is empty")
	case c.Engine != EngineNet && c.Engine != EngineGnet:
		return bad("unknown Engine %d", int(c.Engine))
	case c.MaxFrameSize <= 0 || c.MaxFrameSize > maxFrameLimit:
		return bad("MaxFrameSize %d not in (0, %d]", c.MaxFrameSize, maxFrameLimit)
	case c.ConnsPerPeer <= 0 || c.ConnsPerPeer > 64:
		return bad("ConnsPerPeer %d not in [1, 64]", c.ConnsPerPeer)
	case c.EventLoops < 0 || c.EventLoops > 256:
		return bad("EventLoops %d not in [0, 256]", c.EventLoops)
	case c.DialTimeout <= 0:
		return bad("DialTimeout must be positive")
	case c.IdleTimeout < 0:
		return bad("IdleTimeout is negative")
	case c.FrameTimeout <= 0:
		return bad("FrameTimeout must be positive")
	case c.WriteTimeout <= 0:
		return bad("WriteTimeout must be positive")
	case c.BackoffBase <= 0 || c.BackoffMax < c.BackoffBase:
		return bad("need 0 < BackoffBase <= BackoffMax")
	case c.HandlerPoolSize <= 0:
		return bad("HandlerPoolSize must be positive")
	case c.OutboundQueueBytes < c.MaxFrameSize+2*HeaderSize+64:
		return bad("OutboundQueueBytes %d must hold one max frame (%d)", c.OutboundQueueBytes, c.MaxFrameSize+2*HeaderSize+64)
	case c.Key != nil && len(c.Key) != 16 && len(c.Key) != 24 && len(c.Key) != 32:
		return bad("Key must be 16, 24 or 32 bytes, got %d", len(c.Key))
	case c.Packets && (c.MaxPacketSize <= 0 || c.MaxPacketSize > maxPacketLimit):
		return bad("MaxPacketSize %d not in (0, %d]", c.MaxPacketSize, maxPacketLimit)
	case len(c.AdvertiseAddr) > maxAddrLen:
		return bad("AdvertiseAddr longer than %d bytes", maxAddrLen)
	}
	return nil
}
