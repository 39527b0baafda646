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

var engines = []transport.Engine{transport.EngineNet, transport.EngineGnet}

func listen(t *testing.T, cfg transport.Config) *transport.Endpoint {
	t.Helper()
	ep, err := transport.Listen(cfg)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() { _ = ep.Close() })
	return ep
}

func forEngine(t *testing.T, fn func(t *testing.T, e transport.Engine)) {
	for _, e := range engines {
		t.Run(e.String(), func(t *testing.T) { fn(t, e) })
	}
}

func TestReconnect(t *testing.T) {
	forEngine(t, func(t *testing.T, e transport.Engine) {
		cfg := testConfig(e)
		cfg.ConnsPerPeer = 1
		a := listen(t, cfg)
		b, err := transport.Listen(testConfig(e))
		if err != nil {
			t.Fatal(err)
		}
		addr := b.Addr()
		mustHandle(t, b, typeEcho, echo)
		if _, err := a.Call(ctxT(t, 5*time.Second), addr, typeEcho, []byte("1")); err != nil {
			t.Fatal(err)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		// Until the peer is back, calls fail with a typed error.
		_, err = a.Call(ctxT(t, 5*time.Second), addr, typeEcho, []byte("2"))
		if !errors.Is(err, transport.ErrConnClosed) && !errors.Is(err, transport.ErrDial) {
			t.Fatalf("call to dead peer: %v", err)
		}
		cfgB := testConfig(e)
		cfgB.ListenAddr = addr
		b2 := listen(t, cfgB)
		mustHandle(t, b2, typeEcho, echo)
		// Backoff makes early attempts fail fast; retry until through.
		eventually(t, "reconnect", func() bool {
			got, err := a.Call(ctxT(t, 5*time.Second), addr, typeEcho, []byte("3"))
			return err == nil && string(got) == "3"
		})
		ps := peerStats(a, addr)
		if ps.Reconnects < 1 || ps.Errors.Dial+ps.Errors.ConnClosed < 1 {
			t.Fatalf("Reconnects=%d errors=%+v, want a reconnect and a counted failure", ps.Reconnects, ps.Errors)
		}
	})
}

func TestIdleConnectionsClose(t *testing.T) {
	forEngine(t, func(t *testing.T, e transport.Engine) {
		cfg := testConfig(e)
		// Long enough that a fresh connection is not closed as idle before
		// its first request arrives on a loaded machine (see doc.go HAZARDS).
		cfg.IdleTimeout = 300 * time.Millisecond
		a, b := listen(t, cfg), listen(t, cfg)
		mustHandle(t, b, typeEcho, echo)
		if _, err := a.Call(ctxT(t, 5*time.Second), b.Addr(), typeEcho, nil); err != nil {
			t.Fatal(err)
		}
		eventually(t, "idle close", func() bool {
			return peerStats(a, b.Addr()).Conns == 0 && peerStats(b, a.Addr()).Conns == 0
		})
		if _, err := a.Call(ctxT(t, 5*time.Second), b.Addr(), typeEcho, nil); err != nil {
			t.Fatalf("call after idle close: %v", err)
		}
	})
}

// rawPeer is a hand-driven TCP client that completed a plain hello.
func rawPeer(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write(helloBytes("raw:1", 0)); err != nil {
		t.Fatal(err)
	}
	readHello(t, c)
	return c
}

func helloBytes(addr string, mode byte) []byte {
	b := []byte{'G', 'K', 'V', 'T', transport.ProtocolVersion, mode, 0, byte(len(addr))}
	b = append(b, make([]byte, 32)...)
	return append(b, addr...)
}

func readHello(t *testing.T, c net.Conn) {
	t.Helper()
	h := make([]byte, 40)
	if _, err := io.ReadFull(c, h); err != nil {
		t.Fatalf("reading hello: %v", err)
	}
	if _, err := io.ReadFull(c, make([]byte, binary.BigEndian.Uint16(h[6:]))); err != nil {
		t.Fatal(err)
	}
}

// expectClosed waits until the server closes c.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("server did not close the connection")
	}
}

func TestBadInput(t *testing.T) {
	forEngine(t, func(t *testing.T, e transport.Engine) {
		cfg := testConfig(e)
		cfg.MaxFrameSize = 1024
		cfg.OutboundQueueBytes = 4096
		cfg.FrameTimeout = 100 * time.Millisecond
		srv := listen(t, cfg)
		var handled atomic.Int64
		mustHandle(t, srv, typeEcho, func(_ context.Context, _ string, p []byte) ([]byte, error) {
			handled.Add(1)
			return p, nil
		})
		good := listen(t, testConfig(e))
		check := func() { // other connections are unaffected
			t.Helper()
			if got, err := good.Call(ctxT(t, 5*time.Second), srv.Addr(), typeEcho, []byte("ok")); err != nil || string(got) != "ok" {
				t.Fatalf("healthy peer after bad input: %q %v", got, err)
			}
		}
		hdr := func(version, flags byte, typ uint16, id uint64, n uint32) []byte {
			b := []byte{version, flags, byte(typ >> 8), byte(typ)}
			b = binary.BigEndian.AppendUint64(b, id)
			return binary.BigEndian.AppendUint32(b, n)
		}

		t.Run("garbage hello", func(t *testing.T) {
			before := srv.Stats().Unidentified.BadFrame
			c, err := net.Dial("tcp", srv.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_, _ = c.Write(bytes.Repeat([]byte{0xff}, 64))
			expectClosed(t, c)
			eventually(t, "bad hello counted", func() bool { return srv.Stats().Unidentified.BadFrame == before+1 })
			check()
		})
		t.Run("bad version", func(t *testing.T) {
			c := rawPeer(t, srv.Addr())
			_, _ = c.Write(hdr(9, transport.FlagRequest, uint16(typeEcho), 1, 0))
			expectClosed(t, c)
			eventually(t, "bad frame counted", func() bool { return peerStats(srv, "raw:1").Errors.BadFrame >= 1 })
			check()
		})
		t.Run("bad flags", func(t *testing.T) {
			c := rawPeer(t, srv.Addr())
			_, _ = c.Write(hdr(transport.ProtocolVersion, 0x80, uint16(typeEcho), 1, 0))
			expectClosed(t, c)
			eventually(t, "bad flags counted", func() bool { return peerStats(srv, "raw:1").Errors.BadFrame >= 2 })
			check()
		})
		t.Run("too large", func(t *testing.T) {
			c := rawPeer(t, srv.Addr())
			_, _ = c.Write(hdr(transport.ProtocolVersion, transport.FlagRequest, uint16(typeEcho), 1, 1<<30))
			expectClosed(t, c)
			eventually(t, "too large counted", func() bool { return peerStats(srv, "raw:1").Errors.FrameTooLarge == 1 })
			check()
		})
		t.Run("half frame then stall", func(t *testing.T) {
			c := rawPeer(t, srv.Addr())
			f := hdr(transport.ProtocolVersion, transport.FlagRequest, uint16(typeEcho), 1, 100)
			_, _ = c.Write(append(f, make([]byte, 40)...)) // 60 of 100 payload bytes missing
			expectClosed(t, c)
			eventually(t, "stall counted", func() bool { return peerStats(srv, "raw:1").Errors.Stalled == 1 })
			check()
		})
		t.Run("unknown type is rejected, connection kept", func(t *testing.T) {
			c := rawPeer(t, srv.Addr())
			_, _ = c.Write(hdr(transport.ProtocolVersion, transport.FlagRequest, 777, 5, 0))
			resp := make([]byte, transport.HeaderSize)
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadFull(c, resp); err != nil {
				t.Fatal(err)
			}
			h, err := transport.DecodeHeader(resp, 1<<20)
			if err != nil || h.ID != 5 || h.Flags != transport.FlagResponse|transport.FlagError {
				t.Fatalf("response header %+v %v", h, err)
			}
			body := make([]byte, h.Length)
			if _, err := io.ReadFull(c, body); err != nil {
				t.Fatal(err)
			}
			if err := transport.ParseErrorPayload(body); !errors.Is(err, transport.ErrUnknownType) {
				t.Fatalf("error payload: %v", err)
			}
			// Same connection still serves a valid request.
			_, _ = c.Write(append(hdr(transport.ProtocolVersion, transport.FlagRequest, uint16(typeEcho), 6, 2), 'h', 'i'))
			if _, err := io.ReadFull(c, resp); err != nil {
				t.Fatal(err)
			}
			if h, _ := transport.DecodeHeader(resp, 1<<20); h.ID != 6 || h.Flags != transport.FlagResponse || h.Length != 2 {
				t.Fatalf("echo header %+v", h)
			}
		})
		if handled.Load() == 0 {
			t.Fatal("healthy calls never reached the handler")
		}
	})
}

func TestSlowConsumerDoesNotBlockOthers(t *testing.T) {
	forEngine(t, func(t *testing.T, e transport.Engine) {
		// A peer that completes the hello and then never reads.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		accepted := make(chan net.Conn, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write(helloBytes("slow:1", 0))
			accepted <- c
		}()
		defer func() {
			select {
			case c := <-accepted:
				c.Close()
			default:
			}
		}()
		cfg := testConfig(e)
		cfg.MaxFrameSize = 64 << 10
		cfg.OutboundQueueBytes = 256 << 10
		cfg.ConnsPerPeer = 1
		a := listen(t, cfg)
		fast := listen(t, testConfig(e))
		mustHandle(t, fast, typeEcho, echo)

		payload := make([]byte, 64<<10)
		var blocked error
		for i := 0; i < 4096 && blocked == nil; i++ { // ~256 MiB cap: kernel buffers are far smaller
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			blocked = a.Send(ctx, ln.Addr().String(), typeOneWay, payload)
			cancel()
		}
		if !errors.Is(blocked, context.DeadlineExceeded) {
			t.Fatalf("sends to a non-reading peer never blocked: %v", blocked)
		}
		start := time.Now()
		for range 50 {
			if _, err := a.Call(ctxT(t, 5*time.Second), fast.Addr(), typeEcho, []byte("x")); err != nil {
				t.Fatalf("call to healthy peer: %v", err)
			}
		}
		if d := time.Since(start); d > 4*time.Second {
			t.Fatalf("healthy peer slowed down: 50 calls took %v", d)
		}
	})
}

func TestCrossEngine(t *testing.T) {
	a := listen(t, testConfig(transport.EngineNet))
	b := listen(t, testConfig(transport.EngineGnet))
	mustHandle(t, a, typeEcho, echo)
	mustHandle(t, b, typeEcho, echo)
	for _, pair := range [][2]*transport.Endpoint{{a, b}, {b, a}} {
		got, err := pair[0].Call(ctxT(t, 5*time.Second), pair[1].Addr(), typeEcho, []byte("x-engine"))
		if err != nil || string(got) != "x-engine" {
			t.Fatalf("%s -> %s: %q %v", pair[0].Engine(), pair[1].Engine(), got, err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := transport.DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
	for name, mod := range map[string]func(*transport.Config){
		"no addr":      func(c *transport.Config) { c.ListenAddr = "" },
		"engine":       func(c *transport.Config) { c.Engine = 7 },
		"frame":        func(c *transport.Config) { c.MaxFrameSize = 0 },
		"conns":        func(c *transport.Config) { c.ConnsPerPeer = 0 },
		"event loops":  func(c *transport.Config) { c.EventLoops = -1 },
		"backoff":      func(c *transport.Config) { c.BackoffMax = c.BackoffBase / 2 },
		"pool":         func(c *transport.Config) { c.HandlerPoolSize = 0 },
		"queue":        func(c *transport.Config) { c.OutboundQueueBytes = c.MaxFrameSize },
		"key":          func(c *transport.Config) { c.Key = []byte("short") },
		"packet size":  func(c *transport.Config) { c.MaxPacketSize = 1 << 20 },
		"dial timeout": func(c *transport.Config) { c.DialTimeout = 0 },
	} {
		c := transport.DefaultConfig()
		mod(&c)
		if err := c.Validate(); !errors.Is(err, transport.ErrInvalidConfig) {
			t.Errorf("%s: got %v, want ErrInvalidConfig", name, err)
		}
		if _, err := transport.Listen(c); !errors.Is(err, transport.ErrInvalidConfig) {
			t.Errorf("%s: Listen got %v", name, err)
		}
	}
}

func TestWritesCoalesce(t *testing.T) {
	forEngine(t, func(t *testing.T, e transport.Engine) {
		cfg := testConfig(e)
		cfg.ConnsPerPeer = 1
		a, b := listen(t, cfg), listen(t, cfg)
		mustHandle(t, b, typeEcho, echo)
		const callers, each = 64, 30
		callConcurrently(t, a, b.Addr(), callers, each, 512)
		ps := peerStats(a, b.Addr())
		if ps.MsgsOut != callers*each || ps.Writes >= ps.MsgsOut {
			t.Fatalf("%d frames in %d writes: expected coalescing", ps.MsgsOut, ps.Writes)
		}
		t.Logf("%s: %d frames in %d socket writes", e, ps.MsgsOut, ps.Writes)
	})
}

// TestHandlerPanicIsContained: a panicking handler costs its caller a
// timeout, not the process or the connection (memnet, a test network, lets
// panics through).
func TestHandlerPanicIsContained(t *testing.T) {
	forEngine(t, func(t *testing.T, e transport.Engine) {
		testHandlerPanic(t, e)
	})
}

func testHandlerPanic(t *testing.T, e transport.Engine) {
	cfg := testConfig(e)
	cfg.ConnsPerPeer = 1
	a, b := listen(t, cfg), listen(t, testConfig(e))
	mustHandle(t, b, typeEcho, echo)
	mustHandle(t, b, typeBlock, func(context.Context, string, []byte) ([]byte, error) {
		panic("handler bug")
	})
	if _, err := a.Call(ctxT(t, 5*time.Second), b.Addr(), typeEcho, []byte("warm")); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Call(ctxT(t, 200*time.Millisecond), b.Addr(), typeBlock, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("call to a panicking handler: %v, want DeadlineExceeded", err)
	}
	if got, err := a.Call(ctxT(t, 5*time.Second), b.Addr(), typeEcho, []byte("after")); err != nil || string(got) != "after" {
		t.Fatalf("call after a handler panic: %q %v", got, err)
	}
}

// TestResponsesCoalesce: responses to requests that arrived together leave
// together: the net engine's reader and gnet's event loop cork the
// connection while more requests are buffered.
func TestResponsesCoalesce(t *testing.T) {
	forEngine(t, func(t *testing.T, e transport.Engine) {
		cfg := testConfig(e)
		cfg.ConnsPerPeer = 1
		a, b := listen(t, cfg), listen(t, cfg)
		if err := b.HandleInline(typeEcho, echo); err != nil {
			t.Fatal(err)
		}
		const callers, each = 64, 30
		callConcurrently(t, a, b.Addr(), callers, each, 64)
		// The server counts a response just after queueing it, so the
		// last counts may trail the calls' return.
		eventually(t, "server counted every response", func() bool {
			return peerStats(b, a.Addr()).MsgsOut == callers*each
		})
		ps := peerStats(b, a.Addr())
		if ps.Writes >= ps.MsgsOut {
			t.Fatalf("%d responses in %d writes: expected coalescing", ps.MsgsOut, ps.Writes)
		}
		t.Logf("%s: %d responses in %d socket writes", e, ps.MsgsOut, ps.Writes)
	})
}

// callConcurrently makes callers goroutines each call the echo handler at
// addr each times with a payload of size bytes, and fails t on any error.
func callConcurrently(t *testing.T, a transport.Transport, addr string, callers, each, size int) {
	t.Helper()
	errs := make(chan error, callers)
	for range callers {
		go func() {
			for range each {
				if _, err := a.Call(context.Background(), addr, typeEcho, make([]byte, size)); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range callers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestCorkWithSmallOutboundQueue: responses held back by the cork count
// against OutboundQueueBytes, but only the socket may make a reply wait: a
// corked queue that cannot take the next reply is written out first, so an
// inline handler's reply is never dropped as overloaded because of bytes
// the connection chose to hold.
func TestCorkWithSmallOutboundQueue(t *testing.T) {
	forEngine(t, func(t *testing.T, e transport.Engine) {
		cfg := testConfig(e)
		cfg.ConnsPerPeer = 1
		cfg.MaxFrameSize = 4 << 10
		cfg.OutboundQueueBytes = 16 << 10 // below the cork's own 64 KiB limit
		a, b := listen(t, cfg), listen(t, cfg)
		if err := b.HandleInline(typeEcho, echo); err != nil {
			t.Fatal(err)
		}
		const callers, each = 64, 20
		errs := make(chan error, callers)
		for range callers {
			go func() {
				for range each {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					_, err := a.Call(ctx, b.Addr(), typeEcho, make([]byte, 1<<10))
					cancel()
					if err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
		}
		for range callers {
			if err := <-errs; err != nil {
				t.Fatalf("call: %v", err)
			}
		}
		if n := peerStats(b, a.Addr()).Errors.Overloaded; n != 0 {
			t.Fatalf("server dropped %d replies as overloaded", n)
		}
	})
}
