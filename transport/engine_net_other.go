//go:build !unix

package transport

import "syscall"

// rawWriter is unavailable: direct writes use a short write deadline.
type rawWriter struct{}

func newRawWriter(syscall.RawConn) *rawWriter { return nil }

func (*rawWriter) tryWrite([]byte) (int, error) { return 0, errNoRawWrite }

func (*rawWriter) close() {}
