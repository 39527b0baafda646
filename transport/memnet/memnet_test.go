package memnet_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gridkv/gridkv/transport"
	"github.com/gridkv/gridkv/transport/memnet"
)

// IgnoreCurrent: importing transport imports ants, whose package-level
// default pool starts two goroutines at init.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m, goleak.IgnoreCurrent()) }

const (
	typeEcho transport.MsgType = 1
	typeLog  transport.MsgType = 2
)

func echo(_ context.Context, _ string, p []byte) ([]byte, error) { return p, nil }

func node(t *testing.T, n *memnet.Network, addr string) *memnet.Endpoint {
	t.Helper()
	e, err := n.Listen(addr, memnet.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	if err := e.Handle(typeEcho, echo); err != nil {
		t.Fatal(err)
	}
	return e
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// dropPattern returns which of 200 one-way messages, sent from one
// goroutine, were lost. (One-way: every fault decision is drawn on the
// sending goroutine, in send order.)
func dropPattern(t *testing.T, seed uint64) []bool {
	n := memnet.NewNetwork(seed)
	a, b := node(t, n, "a:1"), node(t, n, "b:1")
	arrived := make(chan int, 200)
	if err := b.Handle(typeLog, func(_ context.Context, _ string, p []byte) ([]byte, error) {
		arrived <- int(p[0])
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	n.SetDropRate(0.3)
	for i := range 200 {
		if err := a.Send(context.Background(), b.Addr(), typeLog, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	lost := make([]bool, 200)
	for i := range lost {
		lost[i] = true
	}
	for range 200 - int(n.Faults().Dropped) {
		lost[<-arrived] = false
	}
	return lost
}

func TestDropIsSeeded(t *testing.T) {
	p1, p2, p3 := dropPattern(t, 42), dropPattern(t, 42), dropPattern(t, 43)
	count := 0
	for i := range p1 {
		if p1[i] != p2[i] {
			t.Fatalf("same seed, different drops at %d", i)
		}
		if p1[i] {
			count++
		}
	}
	if count < 30 || count > 90 {
		t.Fatalf("%d of 200 messages lost, want about 60", count)
	}
	if fmt.Sprint(p1) == fmt.Sprint(p3) {
		t.Fatal("different seeds gave identical drop patterns")
	}
}

func TestPartitionAndHeal(t *testing.T) {
	n := memnet.NewNetwork(1)
	a, b, c := node(t, n, "a:1"), node(t, n, "b:1"), node(t, n, "c:1")
	n.Partition([]string{"a:1"}, []string{"b:1", "c:1"})
	if _, err := a.Call(ctxT(t, 20*time.Millisecond), b.Addr(), typeEcho, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("across partition: %v", err)
	}
	if _, err := c.Call(ctxT(t, 20*time.Millisecond), a.Addr(), typeEcho, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("across partition, reverse: %v", err)
	}
	if _, err := b.Call(ctxT(t, time.Second), c.Addr(), typeEcho, nil); err != nil {
		t.Fatalf("same side: %v", err)
	}
	n.Heal()
	if _, err := a.Call(ctxT(t, time.Second), b.Addr(), typeEcho, nil); err != nil {
		t.Fatalf("after heal: %v", err)
	}
	if n.Faults().Dropped != 2 {
		t.Fatalf("dropped %d, want 2", n.Faults().Dropped)
	}
}

func TestDelayWithManualClock(t *testing.T) {
	n := memnet.NewNetwork(1)
	clk := memnet.NewManualClock(time.Unix(0, 0))
	n.SetClock(clk)
	n.SetDelay(memnet.UniformDelay(10*time.Millisecond, 10*time.Millisecond))
	a, b := node(t, n, "a:1"), node(t, n, "b:1")
	got := make(chan string, 1)
	if err := b.Handle(typeLog, func(_ context.Context, _ string, p []byte) ([]byte, error) {
		got <- string(p)
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := a.Send(context.Background(), b.Addr(), typeLog, []byte("later")); err != nil {
		t.Fatal(err)
	}
	clk.Advance(9 * time.Millisecond)
	select {
	case m := <-got:
		t.Fatalf("delivered %q before its delay", m)
	default:
	}
	if clk.Pending() != 1 {
		t.Fatalf("pending deliveries %d, want 1", clk.Pending())
	}
	clk.Advance(time.Millisecond)
	if m := <-got; m != "later" {
		t.Fatalf("got %q", m)
	}
}

func TestDuplicateRunsHandlerTwice(t *testing.T) {
	n := memnet.NewNetwork(1)
	n.SetDuplicateRate(1)
	a, b := node(t, n, "a:1"), node(t, n, "b:1")
	var mu sync.Mutex
	calls := 0
	done := make(chan struct{}, 2)
	if err := b.Handle(typeLog, func(_ context.Context, _ string, p []byte) ([]byte, error) {
		mu.Lock()
		calls++
		mu.Unlock()
		done <- struct{}{}
		return p, nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, err := a.Call(ctxT(t, time.Second), b.Addr(), typeLog, []byte("once")); err != nil || string(got) != "once" {
		t.Fatalf("%q %v", got, err)
	}
	<-done
	<-done
	// Each response is duplicated too: 3 of the 4 arrive with no call waiting.
	deadline := time.Now().Add(5 * time.Second)
	for {
		ps, _ := a.Stats().Peer(b.Addr())
		if ps.LateResponses == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("late responses %d, want 3", ps.LateResponses)
		}
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 2 {
		t.Fatalf("handler ran %d times, want 2", calls)
	}
}

func TestReorder(t *testing.T) {
	n := memnet.NewNetwork(1)
	a, b := node(t, n, "a:1"), node(t, n, "b:1")
	got := make(chan string, 3)
	b.HandlePackets(func(_ string, p []byte) { got <- string(p) })
	n.SetReorderRate(1)
	if err := a.SendPacket(b.Addr(), []byte("first")); err != nil {
		t.Fatal(err)
	}
	n.SetReorderRate(0)
	for _, m := range []string{"second", "third"} {
		if err := a.SendPacket(b.Addr(), []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	// Packets reach the handler in order of delivery: the held one right
	// after the message that overtook it.
	for _, want := range []string{"second", "first", "third"} {
		if m := <-got; m != want {
			t.Fatalf("got %q, want %q", m, want)
		}
	}
	if r := n.Faults().Reordered; r != 1 {
		t.Fatalf("reordered %d, want 1", r)
	}
}

func TestKillAndRestart(t *testing.T) {
	n := memnet.NewNetwork(1)
	a, b := node(t, n, "a:1"), node(t, n, "b:1")
	entered := make(chan struct{})
	if err := b.Handle(typeLog, func(ctx context.Context, _ string, _ []byte) ([]byte, error) {
		close(entered)
		<-ctx.Done()
		return nil, ctx.Err()
	}); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := a.Call(ctxT(t, 10*time.Second), b.Addr(), typeLog, nil)
		errc <- err
	}()
	<-entered
	if err := n.Kill(b.Addr()); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, transport.ErrConnClosed) {
		t.Fatalf("call during kill: %v", err)
	}
	if _, err := a.Call(ctxT(t, time.Second), b.Addr(), typeEcho, nil); !errors.Is(err, transport.ErrDial) {
		t.Fatalf("call to killed node: %v", err)
	}
	if _, err := b.Call(ctxT(t, time.Second), a.Addr(), typeEcho, nil); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("call from killed node: %v", err)
	}
	if err := n.Restart(b.Addr()); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Call(ctxT(t, time.Second), b.Addr(), typeEcho, []byte("back")); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if ps, _ := a.Stats().Peer(b.Addr()); ps.Reconnects != 1 {
		t.Fatalf("reconnects %d, want 1", ps.Reconnects)
	}
	if err := n.Kill("nobody:1"); !errors.Is(err, memnet.ErrUnknownNode) {
		t.Fatalf("Kill unknown: %v", err)
	}
}

func TestListenErrors(t *testing.T) {
	n := memnet.NewNetwork(1)
	node(t, n, "a:1")
	if _, err := n.Listen("a:1", memnet.DefaultConfig()); !errors.Is(err, memnet.ErrAddrInUse) {
		t.Fatalf("duplicate addr: %v", err)
	}
	bad := memnet.DefaultConfig()
	bad.HandlerPoolSize = 0
	if _, err := n.Listen("", bad); !errors.Is(err, transport.ErrInvalidConfig) {
		t.Fatalf("bad config: %v", err)
	}
}

func TestFlushHeldAndRealClockDelay(t *testing.T) {
	n := memnet.NewNetwork(1)
	a, b := node(t, n, "a:1"), node(t, n, "b:1")
	got := make(chan string, 2)
	b.HandlePackets(func(_ string, p []byte) { got <- string(p) })
	n.SetReorderRate(1)
	if err := a.SendPacket(b.Addr(), []byte("held")); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		t.Fatalf("%q delivered while held", m)
	default:
	}
	n.FlushHeld()
	if m := <-got; m != "held" {
		t.Fatalf("got %q", m)
	}
	// The default clock is the wall clock: a 1 ms delay still delivers.
	n.SetReorderRate(0)
	n.SetDelay(memnet.UniformDelay(time.Millisecond, time.Millisecond))
	if got, err := a.Call(ctxT(t, 5*time.Second), b.Addr(), typeEcho, []byte("slow")); err != nil || string(got) != "slow" {
		t.Fatalf("%q %v", got, err)
	}
	if f := n.Faults(); f.Delayed != 2 || f.Reordered != 1 {
		t.Fatalf("faults %+v", f)
	}
}
