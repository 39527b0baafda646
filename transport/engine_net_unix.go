//go:build unix

package transport

import (
	"net"
	"sync"
	"syscall"
)

// rawWriter writes what a non-blocking socket takes now, straight to its
// descriptor: write(2) calls (repeated on EINTR and short writes) with no
// deadline, so no runtime timer, and none of the runtime poller's per-call
// bookkeeping. Both engines use it for their direct writes; only the holder
// of a session's flushing token writes. mu keeps the descriptor from being
// closed (and its number reused) during a write.
type rawWriter struct {
	mu     sync.RWMutex
	fd     int // -1 until set
	closed bool
}

// newRawWriter returns a writer for rc's descriptor, or nil if it cannot
// be had.
func newRawWriter(rc syscall.RawConn) *rawWriter {
	w := &rawWriter{fd: -1}
	if err := rc.Control(func(fd uintptr) { w.fd = int(fd) }); err != nil || w.fd < 0 {
		return nil
	}
	return w
}

// setFD sets the descriptor to write to.
func (w *rawWriter) setFD(fd int) {
	w.mu.Lock()
	w.fd = fd
	w.mu.Unlock()
}

// tryWrite writes buf as far as the socket takes it now and reports how
// much it wrote; the rest is the caller's to hand on.
func (w *rawWriter) tryWrite(buf []byte) (int, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed || w.fd < 0 {
		return 0, net.ErrClosed
	}
	k := 0
	for k < len(buf) {
		m, err := syscall.Write(w.fd, buf[k:])
		if m > 0 {
			k += m
		}
		switch err {
		case nil:
			if m <= 0 {
				return k, nil
			}
		case syscall.EINTR:
		case syscall.EAGAIN:
			return k, nil
		default:
			return k, err
		}
	}
	return k, nil
}

// close makes later writes fail; it returns once no write is running, so
// the caller may then close the descriptor.
func (w *rawWriter) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}
