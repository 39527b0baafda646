package swim

import (
	"context"
	"net"
	"time"
)

// Packet is one datagram received by a Transport.
type Packet struct {
	// Data is the datagram exactly as sent (still sealed); the receiver owns it.
	Data []byte
	// From is the sender's address in the form other members use to reach it
	// (for the UDP transport, the sender's listening socket address).
	From string
	// At is when the datagram was read from the network.
	At time.Time
}

// Transport is everything the node needs from the network: unreliable
// datagrams for probes and gossip, and reliable byte streams for push-pull
// state exchange and fallback probes. One address reaches both.
//
// Implementations in this package: NewNetTransport (UDP and TCP on one port,
// standard library only) and MemNetwork.NewTransport (in memory, with fault
// injection). gridkv adapts its own transport module to this interface.
//
// The node calls WritePacket and DialStream from several goroutines at
// once; implementations must be safe for concurrent use.
type Transport interface {
	// Addr is the address other members use to reach this node ("host:port").
	Addr() string
	// WritePacket sends one datagram, best effort. It must not block for long:
	// a datagram that cannot be sent is dropped (an error may say why).
	WritePacket(b []byte, addr string) error
	// Packets yields received datagrams. It is closed by Close.
	Packets() <-chan Packet
	// DialStream opens a stream to addr; ctx bounds the dial only.
	DialStream(ctx context.Context, addr string) (net.Conn, error)
	// Streams yields accepted streams. It is closed by Close.
	Streams() <-chan net.Conn
	// Close stops the transport and releases its resources. The channels
	// above are closed once no more values will be sent on them.
	Close() error
}
