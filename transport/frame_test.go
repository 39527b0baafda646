package transport

import (
	"bytes"
	"errors"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	cases := []Header{
		{Flags: FlagRequest, Type: 1, ID: 1},
		{Flags: FlagResponse, Type: 65535, ID: 1<<64 - 1},
		{Flags: FlagResponse | FlagError, Type: 3, ID: 9},
		{Type: 7},
	}
	for _, h := range cases {
		payload := bytes.Repeat([]byte{0xab}, int(h.ID%50))
		b := AppendFrame([]byte("prefix"), h, payload)[6:]
		got, p, n, err := DecodeFrame(append(b, 0xee), 1<<20)
		h.Length = uint32(len(payload))
		if err != nil || got != h || !bytes.Equal(p, payload) || n != len(b) {
			t.Fatalf("%+v: got %+v %x n=%d err=%v", h, got, p, n, err)
		}
	}
}

func TestDecodeHeaderRejects(t *testing.T) {
	ok := AppendHeader(nil, Header{Flags: FlagRequest, Type: 1, ID: 1, Length: 10})
	mut := func(i int, v byte) []byte { b := bytes.Clone(ok); b[i] = v; return b }
	for name, tc := range map[string]struct {
		b    []byte
		want error
	}{
		"short":         {ok[:15], ErrBadFrame},
		"version":       {mut(0, 2), ErrBadFrame},
		"unknown flag":  {mut(1, 0x40), ErrBadFrame},
		"req+resp":      {mut(1, FlagRequest|FlagResponse), ErrBadFrame},
		"error on req":  {mut(1, FlagRequest|FlagError), ErrBadFrame},
		"one-way w/ id": {mut(1, 0), ErrBadFrame},
		"too large":     {mut(12, 1), ErrFrameTooLarge},
	} {
		if _, err := DecodeHeader(tc.b, 1024); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", name, err, tc.want)
		}
	}
	zeroID := AppendHeader(nil, Header{Flags: FlagResponse, Type: 1})
	if _, err := DecodeHeader(zeroID, 1024); !errors.Is(err, ErrBadFrame) {
		t.Errorf("zero ID response: %v", err)
	}
	if _, _, n, err := DecodeFrame(ok, 1024); n != 0 || err != nil {
		t.Errorf("partial frame: n=%d err=%v", n, err)
	}
}

// FuzzDecodeFrame: arbitrary bytes never panic, never yield a payload
// above the limit, and a decoded frame re-encodes to the bytes it came
// from.
func FuzzDecodeFrame(f *testing.F) {
	f.Add(AppendFrame(nil, Header{Flags: FlagRequest, Type: 1, ID: 1}, []byte("hello")))
	f.Add(AppendFrame(nil, Header{Flags: FlagResponse | FlagError, Type: 2, ID: 3}, AppendErrorPayload(nil, 2, "x")))
	f.Add(AppendFrame(nil, Header{Type: 9}, nil))
	f.Add([]byte{1, 0, 0, 0})
	f.Add(bytes.Repeat([]byte{0xff}, 32))
	f.Fuzz(func(t *testing.T, b []byte) {
		const max = 1 << 16
		h, p, n, err := DecodeFrame(b, max)
		if err != nil || n == 0 {
			return
		}
		if len(p) > max || int(h.Length) != len(p) || n != HeaderSize+len(p) {
			t.Fatalf("inconsistent frame %+v len(p)=%d n=%d", h, len(p), n)
		}
		if re := AppendFrame(nil, h, p); !bytes.Equal(re, b[:n]) {
			t.Fatalf("round trip: %x != %x", re, b[:n])
		}
		if h.Flags&FlagError != 0 {
			_ = ParseErrorPayload(p) // must not panic
		}
	})
}

// FuzzSealedFrame: seal then open round-trips, and flipping any byte of
// the sealed frame is rejected.
func FuzzSealedFrame(f *testing.F) {
	f.Add(uint16(1), uint64(7), []byte("payload"), uint16(3))
	f.Add(uint16(0), uint64(1), []byte{}, uint16(0))
	f.Fuzz(func(t *testing.T, typ uint16, id uint64, payload []byte, flip uint16) {
		if id == 0 {
			id = 1
		}
		key := bytes.Repeat([]byte{7}, 32)
		dh := appendHello(nil, hello{mode: modeAEAD, addr: "a:1"})
		ah := appendHello(nil, hello{mode: modeAEAD, addr: "b:2"})
		tx, err := deriveCiphers(key, dh, ah, true)
		if err != nil {
			t.Fatal(err)
		}
		rx, _ := deriveCiphers(key, dh, ah, false)
		rx2, _ := deriveCiphers(key, dh, ah, false)
		h := Header{Flags: FlagRequest, Type: MsgType(typ), ID: id, Length: uint32(len(payload))}
		wire := tx.appendSealed(nil, h, payload)
		if err := checkSealedSize(len(wire)-4, len(payload)); err != nil {
			t.Fatal(err)
		}
		tampered := bytes.Clone(wire[4:])
		tampered[int(flip)%len(tampered)] ^= 0x01
		if _, err := rx2.open(tampered); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("tampered frame opened: %v", err)
		}
		pt, err := rx.open(wire[4:])
		if err != nil {
			t.Fatal(err)
		}
		got, p, _, err := DecodeFrame(pt, len(payload))
		if err != nil || got != h || !bytes.Equal(p, payload) {
			t.Fatalf("round trip: %+v %v", got, err)
		}
	})
}

// FuzzHello: arbitrary hellos never panic; valid ones round-trip.
func FuzzHello(f *testing.F) {
	f.Add(appendHello(nil, hello{mode: modePlain, addr: "127.0.0.1:7000"}))
	f.Add(appendHello(nil, hello{mode: modeAEAD, random: [32]byte{1, 2, 3}}))
	f.Add([]byte("GKVT"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := parseHelloFixed(b)
		if err != nil {
			return
		}
		if n > maxAddrLen || len(b) < helloFixed {
			t.Fatalf("accepted bad hello: n=%d", n)
		}
		if len(b) < helloFixed+n {
			return
		}
		h.addr = string(b[helloFixed : helloFixed+n])
		if re := appendHello(nil, h); !bytes.Equal(re, b[:helloFixed+n]) {
			t.Fatalf("round trip: %x != %x", re, b[:helloFixed+n])
		}
	})
}

// FuzzOpenPacket: arbitrary datagrams never panic; sealed ones round-trip.
func FuzzOpenPacket(f *testing.F) {
	f.Add([]byte{ProtocolVersion, modePlain, 'h', 'i'}, []byte("payload"))
	f.Add([]byte{ProtocolVersion, modeAEAD}, []byte{})
	f.Add([]byte{}, []byte("x"))
	pc, err := newPacketCipher(bytes.Repeat([]byte{3}, 16))
	if err != nil {
		f.Fatal(err)
	}
	plain := &packetEndpoint{}
	sealed := &packetEndpoint{cipher: pc}
	f.Fuzz(func(t *testing.T, raw, payload []byte) {
		const max = 1400
		for _, c := range []*packetCipher{nil, pc} {
			if p, err := openPacket(c, bytes.Clone(raw), max); err == nil && len(p) > max {
				t.Fatalf("payload over limit: %d", len(p))
			}
		}
		if len(payload) > max {
			return
		}
		for _, pe := range []*packetEndpoint{plain, sealed} {
			b, err := pe.seal(nil, payload)
			if err != nil {
				t.Fatal(err)
			}
			got, err := pe.open(b, max)
			if err != nil || !bytes.Equal(got, payload) {
				t.Fatalf("round trip: %v", err)
			}
		}
	})
}
