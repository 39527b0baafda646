package swim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// NetTransportConfig configures NewNetTransport.
type NetTransportConfig struct {
	// BindAddr is "ip:port" to listen on for both UDP and TCP; port 0 picks
	// a free port (the same one for both).
	BindAddr string
	// PacketQueue bounds received datagrams waiting for the node; past it
	// datagrams are dropped (as a full socket buffer would).
	PacketQueue int
	// MaxPacketSize bounds received datagrams; larger ones are truncated and
	// then rejected by the decoder.
	MaxPacketSize int
}

// DefaultNetTransportConfig listens on 127.0.0.1 with an ephemeral port.
func DefaultNetTransportConfig() NetTransportConfig {
	return NetTransportConfig{BindAddr: "127.0.0.1:0", PacketQueue: 1024, MaxPacketSize: 65536}
}

// Validate checks the configuration.
func (c NetTransportConfig) Validate() error {
	if c.PacketQueue < 1 || c.MaxPacketSize < 512 {
		return fmt.Errorf("%w: PacketQueue must be positive and MaxPacketSize at least 512", ErrInvalidConfig)
	}
	if _, _, err := net.SplitHostPort(c.BindAddr); err != nil {
		return fmt.Errorf("%w: BindAddr: %w", ErrInvalidConfig, err)
	}
	return nil
}

// NetTransport is the standard-library Transport: datagrams over UDP and
// streams over TCP, on one port.
type NetTransport struct {
	cfg     NetTransportConfig
	udp     *net.UDPConn
	tcp     *net.TCPListener
	addr    string
	packets chan Packet
	streams chan net.Conn
	done    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
}

var _ Transport = (*NetTransport)(nil)

// NewNetTransport listens on cfg.BindAddr (TCP first, then UDP on the same
// port) and starts its two reader goroutines; Close stops them.
func NewNetTransport(cfg NetTransportConfig) (*NetTransport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 10; attempt++ {
		tcpAddr, err := net.ResolveTCPAddr("tcp", cfg.BindAddr)
		if err != nil {
			return nil, fmt.Errorf("swim: resolve %q: %w", cfg.BindAddr, err)
		}
		tl, err := net.ListenTCP("tcp", tcpAddr)
		if err != nil {
			return nil, fmt.Errorf("swim: listen tcp: %w", err)
		}
		bound := tl.Addr().(*net.TCPAddr)
		ul, err := net.ListenUDP("udp", &net.UDPAddr{IP: bound.IP, Port: bound.Port, Zone: bound.Zone})
		if err != nil {
			tl.Close()
			lastErr = err
			if tcpAddr.Port != 0 {
				break
			}
			continue // the ephemeral TCP port was taken for UDP: try another
		}
		t := &NetTransport{
			cfg: cfg, udp: ul, tcp: tl, addr: bound.String(),
			packets: make(chan Packet, cfg.PacketQueue),
			streams: make(chan net.Conn),
			done:    make(chan struct{}),
		}
		t.wg.Add(2)
		go t.readPackets()
		go t.acceptStreams()
		return t, nil
	}
	return nil, fmt.Errorf("swim: listen udp: %w", lastErr)
}

// Addr is the shared UDP/TCP address.
func (t *NetTransport) Addr() string { return t.addr }

// Packets yields received datagrams.
func (t *NetTransport) Packets() <-chan Packet { return t.packets }

// Streams yields accepted TCP connections.
func (t *NetTransport) Streams() <-chan net.Conn { return t.streams }

// WritePacket sends b to addr over UDP.
func (t *NetTransport) WritePacket(b []byte, addr string) error {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return err
	}
	_, err = t.udp.WriteToUDP(b, ua)
	return err
}

// DialStream opens a TCP connection to addr.
func (t *NetTransport) DialStream(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

func (t *NetTransport) readPackets() {
	defer t.wg.Done()
	defer close(t.packets)
	buf := make([]byte, t.cfg.MaxPacketSize)
	for {
		n, from, err := t.udp.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		p := Packet{Data: append([]byte(nil), buf[:n]...), From: from.String(), At: time.Now()}
		select {
		case t.packets <- p:
		default: // queue full: drop, like a full socket buffer
		}
	}
}

func (t *NetTransport) acceptStreams() {
	defer t.wg.Done()
	defer close(t.streams)
	for {
		c, err := t.tcp.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		select {
		case t.streams <- c:
		case <-t.done:
			c.Close()
			return
		}
	}
}

// Close closes both sockets and waits for the reader goroutines.
func (t *NetTransport) Close() error {
	var err error
	t.once.Do(func() {
		close(t.done)
		err = errors.Join(t.tcp.Close(), t.udp.Close())
		t.wg.Wait()
	})
	return err
}
