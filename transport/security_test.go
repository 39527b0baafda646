package transport_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gridkv/gridkv/transport"
)

var (
	key1 = bytes.Repeat([]byte{1}, 32)
	key2 = bytes.Repeat([]byte{2}, 32)
)

func keyed(e transport.Engine, key []byte) transport.Config {
	c := testConfig(e)
	c.Key = key
	return c
}

func TestEncryptedCalls(t *testing.T) {
	forEngine(t, func(t *testing.T, e transport.Engine) {
		a, b := listen(t, keyed(e, key1)), listen(t, keyed(e, key1))
		mustHandle(t, b, typeEcho, echo)
		for i := range 50 {
			want := bytes.Repeat([]byte{byte(i)}, i*100)
			got, err := a.Call(ctxT(t, 5*time.Second), b.Addr(), typeEcho, want)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("call %d: %v", i, err)
			}
		}
	})
	t.Run("cross-engine", func(t *testing.T) {
		a, b := listen(t, keyed(transport.EngineNet, key1)), listen(t, keyed(transport.EngineGnet, key1))
		mustHandle(t, b, typeEcho, echo)
		if got, err := a.Call(ctxT(t, 5*time.Second), b.Addr(), typeEcho, []byte("sealed")); err != nil || string(got) != "sealed" {
			t.Fatalf("%q %v", got, err)
		}
	})
}

func TestPeerWithoutKeyNeverReachesHandler(t *testing.T) {
	forEngine(t, func(t *testing.T, e transport.Engine) {
		srv := listen(t, keyed(e, key1))
		var handled atomic.Int64
		mustHandle(t, srv, typeEcho, func(_ context.Context, _ string, p []byte) ([]byte, error) {
			handled.Add(1)
			return p, nil
		})

		// No key at all: the hello's mode does not match.
		plain := listen(t, testConfig(e))
		_, err := plain.Call(ctxT(t, 5*time.Second), srv.Addr(), typeEcho, []byte("x"))
		if !errors.Is(err, transport.ErrDial) || !errors.Is(err, transport.ErrUnauthenticated) {
			t.Fatalf("plain peer: got %v, want ErrDial wrapping ErrUnauthenticated", err)
		}

		// The wrong key: the handshake completes, the first frame fails to open.
		wrong := listen(t, keyed(e, key2))
		_, err = wrong.Call(ctxT(t, 5*time.Second), srv.Addr(), typeEcho, []byte("x"))
		if !errors.Is(err, transport.ErrConnClosed) {
			t.Fatalf("wrong key: got %v, want ErrConnClosed", err)
		}
		eventually(t, "unauthenticated frame counted", func() bool {
			return peerStats(srv, wrong.Addr()).Errors.Unauthenticated >= 1
		})

		// A hand-made attacker: valid AEAD hello, then a plaintext frame.
		c, err := net.Dial("tcp", srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, _ = c.Write(helloBytes("evil:1", 1))
		readHello(t, c)
		f := transport.AppendFrame(nil, transport.Header{Flags: transport.FlagRequest, Type: typeEcho, ID: 1}, []byte("pwn"))
		sealedLike := binary.BigEndian.AppendUint32(nil, uint32(len(f)+16))
		sealedLike = append(sealedLike, f...)
		sealedLike = append(sealedLike, make([]byte, 16)...)
		_, _ = c.Write(sealedLike)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, _ := io.Copy(io.Discard, c); n != 0 {
			t.Fatalf("attacker received %d bytes", n)
		}
		eventually(t, "forged frame counted", func() bool {
			return peerStats(srv, "evil:1").Errors.Unauthenticated == 1
		})

		if handled.Load() != 0 {
			t.Fatalf("a frame from a peer without the key reached the handler")
		}
		good := listen(t, keyed(e, key1))
		if _, err := good.Call(ctxT(t, 5*time.Second), srv.Addr(), typeEcho, []byte("ok")); err != nil {
			t.Fatalf("keyed peer: %v", err)
		}
		if handled.Load() != 1 {
			t.Fatalf("handled %d, want 1", handled.Load())
		}
	})
}

func TestEncryptedPackets(t *testing.T) {
	a, b := listen(t, keyed(transport.EngineNet, key1)), listen(t, keyed(transport.EngineNet, key1))
	plain := listen(t, testConfig(transport.EngineNet))
	wrong := listen(t, keyed(transport.EngineNet, key2))
	got := make(chan string, 64)
	b.HandlePackets(func(from string, p []byte) { got <- from + " " + string(p) })
	deadline := time.After(5 * time.Second)
	for {
		_ = plain.SendPacket(b.Addr(), []byte("plain"))
		_ = wrong.SendPacket(b.Addr(), []byte("wrong"))
		if err := a.SendPacket(b.Addr(), []byte("sealed")); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-got:
			if m != a.Addr()+" sealed" {
				t.Fatalf("handler got %q", m)
			}
			eventually(t, "rejected packets counted", func() bool {
				return b.Stats().Unidentified.Unauthenticated >= 2
			})
			return
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatal("no sealed packet arrived")
		}
	}
}
