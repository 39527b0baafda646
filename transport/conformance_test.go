package transport_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gridkv/gridkv/transport"
	"github.com/gridkv/gridkv/transport/memnet"
)

// env builds nodes of one implementation for one test.
type env interface {
	node(t *testing.T, mod func(*transport.Config)) transport.Transport
	// crash makes a node stop abruptly, as a process crash would.
	crash(t *testing.T, n transport.Transport)
}

type impl struct {
	name   string
	newEnv func(t *testing.T) env
}

var impls = []impl{
	{"net", func(*testing.T) env { return sockEnv{engine: transport.EngineNet} }},
	{"gnet", func(*testing.T) env { return sockEnv{engine: transport.EngineGnet} }},
	// Several event loops, as the default gives machines of 8 cores or more.
	{"gnet-4-loops", func(*testing.T) env { return sockEnv{engine: transport.EngineGnet, loops: 4} }},
	{"memnet", func(*testing.T) env { return &memEnv{net: memnet.NewNetwork(1)} }},
}

type sockEnv struct {
	engine transport.Engine
	loops  int // Config.EventLoops; 0 = default
}

func testConfig(e transport.Engine) transport.Config {
	cfg := transport.DefaultConfig()
	cfg.Engine = e
	cfg.BackoffBase = 2 * time.Millisecond
	cfg.BackoffMax = 20 * time.Millisecond
	cfg.DialTimeout = 2 * time.Second
	return cfg
}

func (s sockEnv) node(t *testing.T, mod func(*transport.Config)) transport.Transport {
	t.Helper()
	cfg := testConfig(s.engine)
	cfg.EventLoops = s.loops
	if mod != nil {
		mod(&cfg)
	}
	ep, err := transport.Listen(cfg)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() { _ = ep.Close() })
	return ep
}

func (sockEnv) crash(t *testing.T, n transport.Transport) {
	if err := n.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

type memEnv struct{ net *memnet.Network }

func (m *memEnv) node(t *testing.T, mod func(*transport.Config)) transport.Transport {
	t.Helper()
	tc := transport.DefaultConfig()
	if mod != nil {
		mod(&tc)
	}
	cfg := memnet.DefaultConfig()
	cfg.MaxFrameSize, cfg.HandlerPoolSize, cfg.MaxPacketSize = tc.MaxFrameSize, tc.HandlerPoolSize, tc.MaxPacketSize
	ep, err := m.net.Listen("", cfg)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() { _ = ep.Close() })
	return ep
}

func (m *memEnv) crash(t *testing.T, n transport.Transport) {
	if err := m.net.Kill(n.Addr()); err != nil {
		t.Fatalf("Kill: %v", err)
	}
}

const (
	typeEcho transport.MsgType = iota + 1
	typeBlock
	typeFail
	typeOneWay
)

func echo(_ context.Context, _ string, p []byte) ([]byte, error) { return p, nil }

func mustHandle(t *testing.T, n transport.Transport, typ transport.MsgType, h transport.Handler) {
	t.Helper()
	if err := n.Handle(typ, h); err != nil {
		t.Fatalf("Handle: %v", err)
	}
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it holds or 5 s pass; for counters updated
// asynchronously (no event to wait on).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func peerStats(n transport.Transport, addr string) transport.PeerStats {
	ps, _ := n.Stats().Peer(addr)
	return ps
}

func TestConformance(t *testing.T) {
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			for _, tc := range conformanceTests {
				t.Run(tc.name, func(t *testing.T) { tc.fn(t, im.newEnv(t)) })
			}
		})
	}
}

var conformanceTests = []struct {
	name string
	fn   func(t *testing.T, e env)
}{
	{"CallEcho", testCallEcho},
	{"ConcurrentCallsRouted", testConcurrentCalls},
	{"SendOneWay", testSendOneWay},
	{"RemoteError", testRemoteError},
	{"UnknownType", testUnknownType},
	{"TimeoutAndLateResponse", testTimeoutLate},
	{"Cancel", testCancel},
	{"Overload", testOverload},
	{"FrameTooLarge", testFrameTooLarge},
	{"PeerCrashMidCall", testPeerCrash},
	{"DialFailure", testDialFailure},
	{"Packets", testPackets},
	{"Stats", testStats},
	{"Closed", testClosed},
	{"HandlerExists", testHandlerExists},
	{"InlineHandler", testInline},
	{"CancelWhileReadingOwnResponse", testCancelReuse},
	{"MixedCancelsShareOneConnection", testMixedCancels},
	{"SlowHandlerDoesNotBlockItsConnection", testSlowHandlerSameConn},
}

// testSlowHandlerSameConn blocks a handler (EngineNet: on the connection's
// reader, which it took because nothing else was buffered) and checks that
// later requests on the same connection are still served.
func testSlowHandlerSameConn(t *testing.T, e env) {
	a := e.node(t, func(c *transport.Config) { c.ConnsPerPeer = 1 })
	b := e.node(t, nil)
	mustHandle(t, b, typeEcho, echo)
	started := make(chan struct{})
	release := make(chan struct{})
	mustHandle(t, b, typeBlock, func(context.Context, string, []byte) ([]byte, error) {
		close(started)
		<-release
		return []byte("done"), nil
	})
	if _, err := a.Call(ctxT(t, 5*time.Second), b.Addr(), typeEcho, []byte("warm")); err != nil {
		t.Fatal(err)
	}
	blocked := make(chan error, 1)
	go func() {
		got, err := a.Call(ctxT(t, 10*time.Second), b.Addr(), typeBlock, nil)
		if err == nil && string(got) != "done" {
			err = fmt.Errorf("got %q", got)
		}
		blocked <- err
	}()
	<-started
	for i := range 10 {
		want := fmt.Appendf(nil, "while blocked %d", i)
		got, err := a.Call(ctxT(t, 5*time.Second), b.Addr(), typeEcho, want)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("echo behind a blocked handler: %q %v", got, err)
		}
	}
	close(release)
	if err := <-blocked; err != nil {
		t.Fatalf("blocked call: %v", err)
	}
}

// testCancelReuse cancels calls on a warm connection, where (net engine)
// the caller reads its own response and must be interrupted: each call ends
// with Canceled, the connection survives (no stall, no reconnect) and the
// next call gets its own answer.
func testCancelReuse(t *testing.T, e env) {
	a := e.node(t, func(c *transport.Config) { c.ConnsPerPeer = 1 })
	b := e.node(t, nil)
	mustHandle(t, b, typeEcho, echo)
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	defer close(release)
	mustHandle(t, b, typeBlock, func(context.Context, string, []byte) ([]byte, error) {
		started <- struct{}{}
		<-release
		return []byte("late"), nil
	})
	if _, err := a.Call(ctxT(t, 5*time.Second), b.Addr(), typeEcho, []byte("warm")); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-started; cancel() }()
		if _, err := a.Call(ctx, b.Addr(), typeBlock, nil); !errors.Is(err, context.Canceled) {
			t.Fatalf("call %d: got %v, want Canceled", i, err)
		}
		want := fmt.Appendf(nil, "after %d", i)
		got, err := a.Call(ctxT(t, 5*time.Second), b.Addr(), typeEcho, want)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("call after cancel %d: %q %v", i, got, err)
		}
	}
	ps := peerStats(a, b.Addr())
	if ps.Reconnects != 0 || ps.Errors.Stalled != 0 || ps.Errors.ConnClosed != 0 || ps.InFlight != 0 {
		t.Fatalf("Reconnects=%d errors=%+v InFlight=%d, want a healthy connection", ps.Reconnects, ps.Errors, ps.InFlight)
	}
}

// testMixedCancels runs many callers over one connection, a third of them
// cancelled while their handler sleeps: every other call must get exactly
// its own answer (no call waits for a reader that left).
func testMixedCancels(t *testing.T, e env) {
	a := e.node(t, func(c *transport.Config) { c.ConnsPerPeer = 1 })
	b := e.node(t, func(c *transport.Config) { c.HandlerPoolSize = 256 })
	mustHandle(t, b, typeEcho, echo)
	mustHandle(t, b, typeBlock, func(ctx context.Context, _ string, p []byte) ([]byte, error) {
		// The handler's work takes p[0] × 100 µs (or until b closes).
		select {
		case <-time.After(time.Duration(p[0]) * 100 * time.Microsecond):
		case <-ctx.Done():
		}
		return p, nil
	})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 150 {
				switch i % 3 {
				case 0: // cancelled before its response can arrive
					ctx, cancel := context.WithCancel(context.Background())
					cancel2 := make(chan struct{})
					go func() { defer close(cancel2); cancel() }()
					_, err := a.Call(ctx, b.Addr(), typeBlock, []byte{20})
					<-cancel2
					if err != nil && !errors.Is(err, context.Canceled) {
						t.Errorf("cancelled call: %v", err)
						return
					}
				case 1:
					want := fmt.Appendf(nil, "g%d-%d", g, i)
					got, err := a.Call(ctxT(t, 10*time.Second), b.Addr(), typeEcho, want)
					if err != nil || !bytes.Equal(got, want) {
						t.Errorf("echo: %q %v", got, err)
						return
					}
				default:
					want := []byte{byte(i % 7)}
					got, err := a.Call(ctxT(t, 10*time.Second), b.Addr(), typeBlock, want)
					if err != nil || !bytes.Equal(got, want) {
						t.Errorf("slow call: %v %v", got, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if ps := peerStats(a, b.Addr()); ps.Reconnects != 0 || ps.Errors.Stalled != 0 || ps.Errors.ConnClosed != 0 {
		t.Fatalf("Reconnects=%d errors=%+v, want a healthy connection", ps.Reconnects, ps.Errors)
	}
}

func testInline(t *testing.T, e env) {
	a, b := e.node(t, nil), e.node(t, nil)
	if err := b.HandleInline(typeEcho, func(_ context.Context, from string, p []byte) ([]byte, error) {
		if string(p) == "fail" {
			return nil, &transport.RemoteError{Code: transport.CodeUser, Message: from}
		}
		return p, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := b.Handle(typeEcho, echo); !errors.Is(err, transport.ErrHandlerExists) {
		t.Fatalf("Handle after HandleInline: %v", err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				want := fmt.Appendf(nil, "%d/%d", g, i)
				got, err := a.Call(context.Background(), b.Addr(), typeEcho, want)
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("inline call: %q %v", got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	_, err := a.Call(ctxT(t, 5*time.Second), b.Addr(), typeEcho, []byte("fail"))
	var re *transport.RemoteError
	if !errors.As(err, &re) || re.Message != a.Addr() {
		t.Fatalf("inline error: %v", err)
	}
}

func testCallEcho(t *testing.T, e env) {
	a, b := e.node(t, nil), e.node(t, nil)
	var from atomic.Value
	mustHandle(t, b, typeEcho, func(_ context.Context, f string, p []byte) ([]byte, error) {
		from.Store(f)
		return append([]byte("re:"), p...), nil
	})
	got, err := a.Call(ctxT(t, 5*time.Second), b.Addr(), typeEcho, []byte("hello"))
	if err != nil {
		t.Fatalf("Call: %v", err)
	}
	if string(got) != "re:hello" {
		t.Fatalf("got %q", got)
	}
	if f := from.Load(); f != a.Addr() {
		t.Fatalf("handler saw from=%v, want %s", f, a.Addr())
	}
	got, err = a.Call(ctxT(t, 5*time.Second), b.Addr(), typeEcho, nil)
	if err != nil || string(got) != "re:" {
		t.Fatalf("empty payload: %q %v", got, err)
	}
}

func testConcurrentCalls(t *testing.T, e env) {
	a, b := e.node(t, nil), e.node(t, nil)
	mustHandle(t, b, typeEcho, echo)
	const callers, each = 32, 40
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for g := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				want := fmt.Appendf(nil, "caller %d call %d %s", g, i, bytes.Repeat([]byte{'x'}, i*37))
				got, err := a.Call(context.Background(), b.Addr(), typeEcho, want)
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(got, want) {
					errs <- fmt.Errorf("response routed to wrong call: got %.20q want %.20q", got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func testSendOneWay(t *testing.T, e env) {
	a, b := e.node(t, nil), e.node(t, nil)
	got := make(chan string, 100)
	mustHandle(t, b, typeOneWay, func(_ context.Context, _ string, p []byte) ([]byte, error) {
		got <- string(p)
		return nil, nil
	})
	for i := range 100 {
		if err := a.Send(ctxT(t, 5*time.Second), b.Addr(), typeOneWay, fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	seen := map[string]bool{}
	timeout := time.After(5 * time.Second)
	for len(seen) < 100 {
		select {
		case m := <-got:
			seen[m] = true
		case <-timeout:
			t.Fatalf("received %d of 100 one-way messages", len(seen))
		}
	}
}

func testRemoteError(t *testing.T, e env) {
	a, b := e.node(t, nil), e.node(t, nil)
	mustHandle(t, b, typeFail, func(_ context.Context, _ string, p []byte) ([]byte, error) {
		if string(p) == "typed" {
			return nil, &transport.RemoteError{Code: transport.CodeUser + 7, Message: "not leader"}
		}
		return nil, errors.New("boom")
	})
	_, err := a.Call(ctxT(t, 5*time.Second), b.Addr(), typeFail, []byte("typed"))
	var re *transport.RemoteError
	if !errors.As(err, &re) || re.Code != transport.CodeUser+7 || re.Message != "not leader" {
		t.Fatalf("typed: got %v", err)
	}
	_, err = a.Call(ctxT(t, 5*time.Second), b.Addr(), typeFail, []byte("plain"))
	if !errors.As(err, &re) || re.Code != transport.CodeInternal || re.Message != "boom" {
		t.Fatalf("plain: got %v", err)
	}
	if ps := peerStats(a, b.Addr()); ps.Errors.Remote != 2 {
		t.Fatalf("Remote errors counted %d, want 2", ps.Errors.Remote)
	}
}

func testUnknownType(t *testing.T, e env) {
	a, b := e.node(t, nil), e.node(t, nil)
	_, err := a.Call(ctxT(t, 5*time.Second), b.Addr(), 999, []byte("?"))
	if !errors.Is(err, transport.ErrUnknownType) {
		t.Fatalf("got %v, want ErrUnknownType", err)
	}
	eventually(t, "unknown type counted", func() bool { return peerStats(b, a.Addr()).Errors.UnknownType == 1 })
}

func testTimeoutLate(t *testing.T, e env) {
	a, b := e.node(t, nil), e.node(t, nil)
	release := make(chan struct{})
	returned := make(chan struct{}, 1)
	mustHandle(t, b, typeBlock, func(ctx context.Context, _ string, p []byte) ([]byte, error) {
		<-release
		returned <- struct{}{}
		return []byte("late"), nil
	})
	mustHandle(t, b, typeEcho, echo)
	_, err := a.Call(ctxT(t, 50*time.Millisecond), b.Addr(), typeBlock, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want DeadlineExceeded", err)
	}
	close(release)
	<-returned
	eventually(t, "late response counted", func() bool { return peerStats(a, b.Addr()).LateResponses == 1 })
	// The freed slot and the late response must not leak into a new call.
	for i := range 20 {
		want := fmt.Appendf(nil, "after %d", i)
		got, err := a.Call(ctxT(t, 5*time.Second), b.Addr(), typeEcho, want)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("call after timeout: %q %v", got, err)
		}
	}
	ps := peerStats(a, b.Addr())
	if ps.InFlight != 0 || ps.Errors.Timeout != 1 {
		t.Fatalf("InFlight=%d Timeout=%d, want 0 and 1", ps.InFlight, ps.Errors.Timeout)
	}
}

func testCancel(t *testing.T, e env) {
	a, b := e.node(t, nil), e.node(t, nil)
	started := make(chan struct{})
	mustHandle(t, b, typeBlock, func(ctx context.Context, _ string, _ []byte) ([]byte, error) {
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	_, err := a.Call(ctx, b.Addr(), typeBlock, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want Canceled", err)
	}
	// An already cancelled context sends nothing.
	if _, err := a.Call(ctx, b.Addr(), typeEcho, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("pre-cancelled Call: %v", err)
	}
	if err := a.Send(ctx, b.Addr(), typeEcho, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("pre-cancelled Send: %v", err)
	}
	if ps := peerStats(b, a.Addr()); ps.MsgsIn != 1 {
		t.Fatalf("peer received %d messages, want 1", ps.MsgsIn)
	}
}

func testOverload(t *testing.T, e env) {
	a := e.node(t, nil)
	b := e.node(t, func(c *transport.Config) { c.HandlerPoolSize = 2 })
	entered := make(chan struct{}, 2)
	release := make(chan struct{})
	mustHandle(t, b, typeBlock, func(ctx context.Context, _ string, _ []byte) ([]byte, error) {
		entered <- struct{}{}
		<-release
		return []byte("ok"), nil
	})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := a.Call(ctxT(t, 10*time.Second), b.Addr(), typeBlock, nil); err != nil {
				t.Errorf("blocked call: %v", err)
			}
		}()
	}
	<-entered
	<-entered
	_, err := a.Call(ctxT(t, 5*time.Second), b.Addr(), typeBlock, nil)
	if !errors.Is(err, transport.ErrOverloaded) {
		t.Fatalf("got %v, want ErrOverloaded", err)
	}
	var re *transport.RemoteError
	if !errors.As(err, &re) || re.Code != transport.CodeOverloaded {
		t.Fatalf("overload should be a RemoteError with CodeOverloaded: %v", err)
	}
	close(release)
	wg.Wait()
	if ps := peerStats(b, a.Addr()); ps.Errors.Overloaded != 1 {
		t.Fatalf("server counted %d overloads, want 1", ps.Errors.Overloaded)
	}
}

func testFrameTooLarge(t *testing.T, e env) {
	a := e.node(t, func(c *transport.Config) { c.MaxFrameSize = 1024 })
	b := e.node(t, nil)
	mustHandle(t, b, typeEcho, echo)
	_, err := a.Call(ctxT(t, 5*time.Second), b.Addr(), typeEcho, make([]byte, 1025))
	if !errors.Is(err, transport.ErrFrameTooLarge) {
		t.Fatalf("Call: got %v", err)
	}
	if err := a.Send(ctxT(t, 5*time.Second), b.Addr(), typeEcho, make([]byte, 1025)); !errors.Is(err, transport.ErrFrameTooLarge) {
		t.Fatalf("Send: got %v", err)
	}
	if _, err := a.Call(ctxT(t, 5*time.Second), b.Addr(), typeEcho, make([]byte, 1024)); err != nil {
		t.Fatalf("max-size call: %v", err)
	}
}

func testPeerCrash(t *testing.T, e env) {
	a, b := e.node(t, nil), e.node(t, nil)
	entered := make(chan struct{})
	mustHandle(t, b, typeBlock, func(ctx context.Context, _ string, _ []byte) ([]byte, error) {
		close(entered)
		<-ctx.Done()
		return nil, ctx.Err()
	})
	go func() { <-entered; e.crash(t, b) }()
	start := time.Now()
	_, err := a.Call(ctxT(t, 20*time.Second), b.Addr(), typeBlock, nil)
	if !errors.Is(err, transport.ErrConnClosed) {
		t.Fatalf("got %v, want ErrConnClosed", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("crash noticed after %v", d)
	}
}

func testDialFailure(t *testing.T, e env) {
	a, b := e.node(t, nil), e.node(t, nil)
	addr := b.Addr()
	e.crash(t, b)
	_, err := a.Call(ctxT(t, 5*time.Second), addr, typeEcho, nil)
	if !errors.Is(err, transport.ErrDial) {
		t.Fatalf("got %v, want ErrDial", err)
	}
}

func testPackets(t *testing.T, e env) {
	a, b := e.node(t, nil), e.node(t, nil)
	type pkt struct{ from, data string }
	got := make(chan pkt, 16)
	b.HandlePackets(func(from string, p []byte) { got <- pkt{from, string(p)} })
	// UDP may drop even on loopback: resend until one arrives.
	deadline := time.After(5 * time.Second)
	for {
		if err := a.SendPacket(b.Addr(), []byte("ping")); err != nil {
			t.Fatalf("SendPacket: %v", err)
		}
		select {
		case p := <-got:
			if p.data != "ping" || p.from != a.Addr() {
				t.Fatalf("got %+v, want ping from %s", p, a.Addr())
			}
			if err := a.SendPacket(b.Addr(), make([]byte, 1401)); !errors.Is(err, transport.ErrFrameTooLarge) {
				t.Fatalf("oversized packet: %v", err)
			}
			return
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatal("no packet arrived")
		}
	}
}

func testStats(t *testing.T, e env) {
	a, b := e.node(t, nil), e.node(t, nil)
	mustHandle(t, b, typeEcho, echo)
	for range 10 {
		if _, err := a.Call(ctxT(t, 5*time.Second), b.Addr(), typeEcho, make([]byte, 100)); err != nil {
			t.Fatal(err)
		}
	}
	ps := peerStats(a, b.Addr())
	if ps.MsgsOut != 10 || ps.MsgsIn != 10 || ps.BytesOut != 1000 || ps.BytesIn != 1000 {
		t.Fatalf("client stats %+v", ps)
	}
	if ps.Latency.Count() != 10 || ps.InFlight != 0 || ps.Errors.Total() != 0 {
		t.Fatalf("latency count %d inflight %d errors %+v", ps.Latency.Count(), ps.InFlight, ps.Errors)
	}
	eventually(t, "server stats", func() bool {
		s := peerStats(b, a.Addr())
		return s.MsgsIn == 10 && s.MsgsOut == 10
	})
}

func testClosed(t *testing.T, e env) {
	a, b := e.node(t, nil), e.node(t, nil)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Call(context.Background(), b.Addr(), typeEcho, nil); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("Call after Close: %v", err)
	}
	if err := a.Close(); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
}

func testHandlerExists(t *testing.T, e env) {
	a := e.node(t, nil)
	mustHandle(t, a, typeEcho, echo)
	if err := a.Handle(typeEcho, echo); !errors.Is(err, transport.ErrHandlerExists) {
		t.Fatalf("got %v", err)
	}
}
