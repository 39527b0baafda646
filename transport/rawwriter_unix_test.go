//go:build unix

package transport

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
)

// TestRawWriterStopsAtClose: direct writes go to the socket's descriptor
// until close; after it they fail with net.ErrClosed instead of writing to
// a descriptor number the system may already have given to another file.
func TestRawWriterStopsAtClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	peer, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	defer peer.Close()

	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	w := newRawWriter(rc)
	if w == nil {
		t.Fatal("newRawWriter: nil for a TCP connection")
	}
	msg := []byte("frame bytes")
	if n, err := w.tryWrite(msg); err != nil || n != len(msg) {
		t.Fatalf("tryWrite = %d, %v; want %d, nil", n, err, len(msg))
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(peer, got); err != nil || string(got) != string(msg) {
		t.Fatalf("peer read %q, %v; want %q", got, err, msg)
	}

	w.close()
	if n, err := w.tryWrite(msg); !errors.Is(err, net.ErrClosed) || n != 0 {
		t.Fatalf("tryWrite after close = %d, %v; want 0, net.ErrClosed", n, err)
	}
}
