package gridkv

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/gridkv/gridkv/transport/memnet"
)

func newSwimNetPair(t *testing.T) (*swimNet, *swimNet) {
	t.Helper()
	nw := memnet.NewNetwork(7)
	mk := func(addr string) *swimNet {
		ep, err := nw.Listen(addr, memnet.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		s, err := newSwimNet(ep, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(); ep.Close() })
		return s
	}
	return mk("a:1"), mk("b:1")
}

// TestSwimNetStreamTurns runs the push-pull shape over a tunnelled stream:
// request, reply, a final message from the dialer, then close.
func TestSwimNetStreamTurns(t *testing.T) {
	a, b := newSwimNetPair(t)
	served := make(chan error, 1)
	go func() {
		conn := <-b.Streams()
		defer conn.Close()
		buf := make([]byte, 5)
		if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "hello" {
			served <- errors.New("bad first turn: " + string(buf))
			return
		}
		if _, err := conn.Write([]byte("world")); err != nil {
			served <- err
			return
		}
		rest, err := io.ReadAll(conn) // the dialer's last turn, then EOF
		if err != nil || string(rest) != "state" {
			served <- errors.New("bad last turn: " + string(rest))
			return
		}
		served <- nil
	}()
	conn, err := a.DialStream(context.Background(), "b:1")
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "world" {
		t.Fatalf("reply %q, %v", buf, err)
	}
	conn.Write([]byte("state"))
	if err := conn.Close(); err != nil {
		t.Fatalf("Close delivering the last turn: %v", err)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close = %v", err)
	}
}

// TestSwimNetServerCloseEndsStream: the acceptor closing after its reply
// shows up as EOF for the dialer.
func TestSwimNetServerCloseEndsStream(t *testing.T) {
	a, b := newSwimNetPair(t)
	go func() {
		conn := <-b.Streams()
		buf := make([]byte, 4)
		io.ReadFull(conn, buf)
		conn.Write([]byte("ack"))
		conn.Close()
	}()
	conn, _ := a.DialStream(context.Background(), "b:1")
	conn.Write([]byte("ping"))
	got, err := io.ReadAll(conn)
	if err != nil || string(got) != "ack" {
		t.Fatalf("ReadAll = %q, %v", got, err)
	}
	conn.Close()
}

// TestSwimNetDeadline: an acceptor that never answers makes the dialer's
// read fail at its deadline, not hang.
func TestSwimNetDeadline(t *testing.T) {
	a, b := newSwimNetPair(t)
	held := make(chan net.Conn, 1)
	go func() { held <- <-b.Streams() }()
	conn, _ := a.DialStream(context.Background(), "b:1")
	conn.SetDeadline(time.Now().Add(100 * time.Millisecond))
	conn.Write([]byte("x"))
	buf := make([]byte, 1)
	// The acceptor reads nothing and writes nothing: it never yields its
	// turn, so the call runs into the dialer's deadline.
	if _, err := conn.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read with a silent acceptor = %v, want os.ErrDeadlineExceeded", err)
	}
	(<-held).Close()
}

func TestSwimNetRejectsGarbage(t *testing.T) {
	_, b := newSwimNetPair(t)
	for _, p := range [][]byte{nil, {1, 2, 3}, make([]byte, 9)} {
		if _, err := b.handleStream(context.Background(), "x", p); err == nil {
			t.Errorf("handleStream(%x) accepted garbage", p)
		}
	}
}
