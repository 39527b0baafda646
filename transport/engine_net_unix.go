//go:build unix

package transport

import (
	"errors"
	"syscall"
)

// rawWriter writes what a socket takes now, without waiting for it to
// become writable: non-blocking write(2) calls (repeated on EINTR and
// short writes), no deadline and so no runtime timer. Its state lives here
// rather than in a closure so that a write allocates nothing; only the
// holder of the session's flushing token uses it.
type rawWriter struct {
	rc  syscall.RawConn
	fn  func(fd uintptr) bool // w.write, bound once
	buf []byte
	k   int
	err error
}

func newRawWriter(rc syscall.RawConn) *rawWriter {
	w := &rawWriter{rc: rc}
	w.fn = w.write
	return w
}

func (w *rawWriter) write(fd uintptr) bool {
	for w.k < len(w.buf) {
		m, e := syscall.Write(int(fd), w.buf[w.k:])
		if m > 0 {
			w.k += m
		}
		switch {
		case e == nil && m > 0:
			continue
		case errors.Is(e, syscall.EINTR):
			continue
		case errors.Is(e, syscall.EAGAIN):
		default:
			w.err = e
		}
		break
	}
	return true // never wait for writability here
}

// tryWrite writes buf as far as the socket takes it now and reports how
// much it wrote; the rest is the writer goroutine's.
func (w *rawWriter) tryWrite(buf []byte) (int, error) {
	w.buf, w.k, w.err = buf, 0, nil
	err := w.rc.Write(w.fn)
	k := w.k
	if err == nil {
		err = w.err
	}
	w.buf, w.err = nil, nil
	return k, err
}
