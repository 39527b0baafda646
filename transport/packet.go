package transport

import (
	"crypto/rand"
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// Packet wire format: [version][mode] then the payload (mode plain) or a
// 12-byte random nonce and the AES-GCM sealed payload (mode AEAD, with the
// two leading bytes as additional data).
const packetHeader = 2

type packetEndpoint struct {
	ep      *Endpoint
	conn    *net.UDPConn
	cipher  *packetCipher
	mu      sync.RWMutex
	handler PacketHandler
	bufPool sync.Pool
}

func (pe *packetEndpoint) listen(ep *Endpoint, addr string) error {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return err
	}
	c, err := net.ListenUDP("udp", ua)
	if err != nil {
		return err
	}
	pe.ep, pe.conn = ep, c
	if ep.cfg.Key != nil {
		if pe.cipher, err = newPacketCipher(ep.cfg.Key); err != nil {
			c.Close()
			return err
		}
	}
	size := packetHeader + 12 + ep.cfg.MaxPacketSize + gcmTag
	pe.bufPool.New = func() any { b := make([]byte, 0, size); return &b }
	return nil
}

func (pe *packetEndpoint) start(ep *Endpoint) {
	if pe.conn == nil {
		return
	}
	ep.wg.Add(1)
	go pe.readLoop()
}

func (pe *packetEndpoint) close() {
	if pe.conn != nil {
		pe.conn.Close()
	}
}

// HandlePackets implements Transport.
func (ep *Endpoint) HandlePackets(h PacketHandler) {
	ep.pkt.mu.Lock()
	ep.pkt.handler = h
	ep.pkt.mu.Unlock()
}

// SendPacket implements Transport. addr is "host:port"; host names are
// resolved on every call.
func (ep *Endpoint) SendPacket(addr string, packet []byte) error {
	pe := &ep.pkt
	if ep.closed.Load() {
		return ErrClosed
	}
	if pe.conn == nil {
		return fmt.Errorf("%w: packets disabled", ErrInvalidConfig)
	}
	if len(packet) > ep.cfg.MaxPacketSize {
		return fmt.Errorf("%w: packet %d > %d", ErrFrameTooLarge, len(packet), ep.cfg.MaxPacketSize)
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		ua, rerr := net.ResolveUDPAddr("udp", addr)
		if rerr != nil {
			return fmt.Errorf("%w: %s: %v", ErrDial, addr, rerr)
		}
		ap = ua.AddrPort()
	}
	bp := pe.bufPool.Get().(*[]byte)
	defer pe.bufPool.Put(bp)
	b, err := pe.seal((*bp)[:0], packet)
	if err != nil {
		return err
	}
	*bp = b
	_, err = pe.conn.WriteToUDPAddrPort(b, ap)
	return err
}

// seal frames (and with a key, encrypts) one packet.
func (pe *packetEndpoint) seal(dst, packet []byte) ([]byte, error) {
	if pe.cipher == nil {
		dst = append(dst, ProtocolVersion, modePlain)
		return append(dst, packet...), nil
	}
	dst = append(dst, ProtocolVersion, modeAEAD)
	var nonce [12]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, err
	}
	dst = append(dst, nonce[:]...)
	return pe.cipher.aead.Seal(dst, nonce[:], packet, dst[:packetHeader]), nil
}

// OpenPacket validates and, with a key, decrypts one received datagram
// in place, returning its payload. It never panics on arbitrary input.
func (pe *packetEndpoint) open(b []byte, maxPayload int) ([]byte, error) {
	return openPacket(pe.cipher, b, maxPayload)
}

func openPacket(pc *packetCipher, b []byte, maxPayload int) ([]byte, error) {
	if len(b) < packetHeader || b[0] != ProtocolVersion {
		return nil, fmt.Errorf("%w: packet header", ErrBadFrame)
	}
	mode := b[1]
	switch {
	case pc == nil && mode == modePlain:
		p := b[packetHeader:]
		if len(p) > maxPayload {
			return nil, fmt.Errorf("%w: packet %d > %d", ErrFrameTooLarge, len(p), maxPayload)
		}
		return p, nil
	case pc != nil && mode == modeAEAD:
		if len(b) < packetHeader+12+gcmTag {
			return nil, fmt.Errorf("%w: short sealed packet", ErrBadFrame)
		}
		if len(b)-packetHeader-12-gcmTag > maxPayload {
			return nil, fmt.Errorf("%w: packet over %d", ErrFrameTooLarge, maxPayload)
		}
		nonce := b[packetHeader : packetHeader+12]
		ct := b[packetHeader+12:]
		p, err := pc.aead.Open(ct[:0], nonce, ct, b[:packetHeader])
		if err != nil {
			return nil, fmt.Errorf("%w: packet failed authentication", ErrUnauthenticated)
		}
		return p, nil
	case mode != modePlain && mode != modeAEAD:
		return nil, fmt.Errorf("%w: packet mode %d", ErrBadFrame, mode)
	}
	return nil, fmt.Errorf("%w: packet encryption mode mismatch", ErrUnauthenticated)
}

func (pe *packetEndpoint) readLoop() {
	defer pe.ep.wg.Done()
	buf := make([]byte, packetHeader+12+pe.ep.cfg.MaxPacketSize+gcmTag+1)
	for {
		n, from, err := pe.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if pe.ep.closed.Load() {
				return
			}
			continue
		}
		p, err := pe.open(buf[:n], pe.ep.cfg.MaxPacketSize)
		if err != nil {
			countError(&pe.ep.unident, err)
			continue
		}
		pe.mu.RLock()
		h := pe.handler
		pe.mu.RUnlock()
		if h != nil {
			h(from.String(), p)
		}
	}
}
