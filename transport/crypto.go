package transport

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"slices"
	"time"
)

// Security model: a shared symmetric Key (like memberlist's keyring)
// rather than TLS. Reasons: no certificate authority to run for a cluster
// of equal nodes; the same key also protects UDP packets, which TLS does
// not cover; and sealing frames ourselves works identically on the gnet
// engine, which has no TLS support.
//
// Each connection starts with both sides sending a hello (magic, version,
// mode, 32 random bytes, advertised address). Per-direction AES-GCM keys
// are HKDF-SHA256(Key, salt = dialer random || acceptor random, info =
// direction label || SHA-256 of both hellos), so both sides contribute
// freshness (a recorded connection cannot be replayed) and the advertised
// addresses are bound to the keys. Nonces are per-direction counters.
// A peer without the key cannot produce a frame that opens: the first such
// frame closes the connection with ErrUnauthenticated before any handler
// runs.

const (
	helloFixed = 40
	modePlain  = 0
	modeAEAD   = 1
	gcmTag     = 16
)

var helloMagic = [4]byte{'G', 'K', 'V', 'T'}

type hello struct {
	mode   uint8
	random [32]byte
	addr   string
}

func appendHello(dst []byte, h hello) []byte {
	dst = append(dst, helloMagic[:]...)
	dst = append(dst, ProtocolVersion, h.mode)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(h.addr)))
	dst = append(dst, h.random[:]...)
	return append(dst, h.addr...)
}

// parseHelloFixed validates the fixed part of a hello and returns the
// length of the address that follows.
func parseHelloFixed(b []byte) (hello, int, error) {
	var h hello
	if len(b) < helloFixed {
		return h, 0, fmt.Errorf("%w: short hello", ErrBadFrame)
	}
	if [4]byte(b[:4]) != helloMagic {
		return h, 0, fmt.Errorf("%w: bad hello magic", ErrBadFrame)
	}
	if b[4] != ProtocolVersion {
		return h, 0, fmt.Errorf("%w: hello version %d", ErrBadFrame, b[4])
	}
	h.mode = b[5]
	if h.mode != modePlain && h.mode != modeAEAD {
		return h, 0, fmt.Errorf("%w: hello mode %d", ErrBadFrame, h.mode)
	}
	n := int(binary.BigEndian.Uint16(b[6:]))
	if n > maxAddrLen {
		return h, 0, fmt.Errorf("%w: hello address length %d", ErrBadFrame, n)
	}
	copy(h.random[:], b[8:40])
	return h, n, nil
}

// cipherState seals outbound and opens inbound frames of one connection.
// seal is called under the session's write lock, open by the single
// reader, so the counters need no further synchronisation.
type cipherState struct {
	send, recv           cipher.AEAD
	sendCtr, recvCtr     uint64
	sendNonce, recvNonce [12]byte // kept here: a stack nonce escapes through the interface call
}

func newGCM(key []byte) (cipher.AEAD, error) {
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(blk)
}

func deriveCiphers(key []byte, dialerHello, acceptorHello []byte, dialer bool) (*cipherState, error) {
	var salt [64]byte
	copy(salt[:32], dialerHello[8:40])
	copy(salt[32:], acceptorHello[8:40])
	th := sha256.New()
	th.Write(dialerHello)
	th.Write(acceptorHello)
	sum := th.Sum(nil)
	k := func(label string) (cipher.AEAD, error) {
		info := append([]byte(label), sum...)
		b, err := hkdf.Key(sha256.New, key, salt[:], string(info), 32)
		if err != nil {
			return nil, err
		}
		return newGCM(b)
	}
	d2a, err := k("gridkv/transport/v1 dialer->acceptor")
	if err != nil {
		return nil, err
	}
	a2d, err := k("gridkv/transport/v1 acceptor->dialer")
	if err != nil {
		return nil, err
	}
	if dialer {
		return &cipherState{send: d2a, recv: a2d}, nil
	}
	return &cipherState{send: a2d, recv: d2a}, nil
}

func counterNonce(n *[12]byte, ctr uint64) []byte {
	binary.BigEndian.PutUint64(n[4:], ctr)
	return n[:]
}

// appendSealed appends [4-byte sealed length][AES-GCM(header+payload)].
func (cs *cipherState) appendSealed(dst []byte, h Header, payload []byte) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	p := len(dst)
	dst = AppendFrame(dst, h, payload)
	dst = slices.Grow(dst, gcmTag) // seal in place, without reallocating
	cs.sendCtr++
	sealed := cs.send.Seal(dst[p:p], counterNonce(&cs.sendNonce, cs.sendCtr), dst[p:], nil)
	binary.BigEndian.PutUint32(dst[start:start+4], uint32(len(sealed)))
	return dst[:p+len(sealed)]
}

// open decrypts a sealed frame in place and returns the plaintext.
func (cs *cipherState) open(sealed []byte) ([]byte, error) {
	cs.recvCtr++
	pt, err := cs.recv.Open(sealed[:0], counterNonce(&cs.recvNonce, cs.recvCtr), sealed, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: frame failed authentication", ErrUnauthenticated)
	}
	return pt, nil
}

// handshake exchanges hellos over a fresh connection and derives the
// connection's ciphers. It returns the peer's advertised address.
func handshake(c net.Conn, cfg *Config, advertise string, dialer bool, deadline time.Time) (string, *cipherState, error) {
	if err := c.SetDeadline(deadline); err != nil {
		return "", nil, err
	}
	mine := hello{addr: advertise}
	if cfg.Key != nil {
		mine.mode = modeAEAD
		if _, err := rand.Read(mine.random[:]); err != nil {
			return "", nil, err
		}
	}
	myRaw := appendHello(make([]byte, 0, helloFixed+len(advertise)), mine)
	if _, err := c.Write(myRaw); err != nil {
		return "", nil, err
	}
	theirRaw := make([]byte, helloFixed, helloFixed+maxAddrLen)
	if _, err := io.ReadFull(c, theirRaw); err != nil {
		return "", nil, err
	}
	theirs, n, err := parseHelloFixed(theirRaw)
	if err != nil {
		return "", nil, err
	}
	theirRaw = theirRaw[:helloFixed+n]
	if _, err := io.ReadFull(c, theirRaw[helloFixed:]); err != nil {
		return "", nil, err
	}
	theirs.addr = string(theirRaw[helloFixed:])
	if theirs.mode != mine.mode {
		return "", nil, fmt.Errorf("%w: peer encryption mode %d, ours %d", ErrUnauthenticated, theirs.mode, mine.mode)
	}
	if err := c.SetDeadline(time.Time{}); err != nil {
		return "", nil, err
	}
	if cfg.Key == nil {
		return theirs.addr, nil, nil
	}
	dh, ah := myRaw, theirRaw
	if !dialer {
		dh, ah = theirRaw, myRaw
	}
	cs, err := deriveCiphers(cfg.Key, dh, ah, dialer)
	return theirs.addr, cs, err
}

// packetCipher seals UDP packets with a random nonce.
type packetCipher struct{ aead cipher.AEAD }

func newPacketCipher(key []byte) (*packetCipher, error) {
	b, err := hkdf.Key(sha256.New, key, nil, "gridkv/transport/v1 packets", 32)
	if err != nil {
		return nil, err
	}
	a, err := newGCM(b)
	if err != nil {
		return nil, err
	}
	return &packetCipher{aead: a}, nil
}

// checkSealedSize validates the length prefix of a sealed frame.
func checkSealedSize(size, maxPayload int) error {
	if size < HeaderSize+gcmTag {
		return fmt.Errorf("%w: sealed frame of %d bytes", ErrBadFrame, size)
	}
	if size > HeaderSize+maxPayload+gcmTag {
		return fmt.Errorf("%w: sealed frame of %d bytes", ErrFrameTooLarge, size)
	}
	return nil
}
