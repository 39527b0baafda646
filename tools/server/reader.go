package server

import (
	"errors"
	"fmt"
	"io"

	"github.com/tidwall/redcon"
)

// errProtocol reports bytes that are not the Redis protocol. The client
// gets "-ERR Protocol error: ..." and the connection is closed, as Redis
// does: the stream cannot be resynchronised.
var errProtocol = errors.New("Protocol error")

// cmdReader splits a client's byte stream into commands with redcon's
// parser (redcon.ReadNextCommand). It keeps one buffer per connection and
// one argument slice, so reading a pipeline allocates nothing; the
// arguments next returns alias that buffer and stay valid only until fill
// runs again. (redcon.Reader, used before, copied every command and
// walked the whole element count of a multi-bulk header even when none of
// the elements had arrived: "*20000000000\r\n" kept a core busy for 12 s.)
type cmdReader struct {
	r          io.Reader
	buf        []byte // buf[start:end] is read and not yet parsed
	start, end int
	args       [][]byte
	limit      int // the most bytes one command may take (MaxQueryBytes)
}

// A connection's read buffer starts at initialReadBuffer, grows (doubling)
// for a pipeline or a command that does not fit, up to MaxQueryBytes, and
// goes back to the initial size, once empty, if it grew past
// keptReadBuffer: idle connections hold little, busy ones do not
// reallocate.
const (
	initialReadBuffer = 4 << 10
	keptReadBuffer    = 64 << 10
)

func newCmdReader(r io.Reader, limit int) *cmdReader {
	return &cmdReader{r: r, buf: make([]byte, min(initialReadBuffer, limit)), limit: limit}
}

// next returns the arguments of the next complete buffered command, or
// nil if none is complete. Empty commands (a blank inline line, "*0") are
// skipped.
func (rd *cmdReader) next() ([][]byte, error) {
	for rd.start < rd.end {
		complete, args, kind, rest, err := parseCommand(rd.buf[rd.start:rd.end], rd.args[:0])
		if err != nil {
			return nil, err
		}
		if !complete {
			return nil, nil
		}
		if kind == redcon.Tile38 {
			return nil, fmt.Errorf("%w: expected '*', got '$'", errProtocol)
		}
		rd.start = rd.end - len(rest)
		if len(args) > 0 {
			rd.args = args
			return args, nil
		}
	}
	return nil, nil
}

// parseCommand is redcon.ReadNextCommand made safe for any input: in
// redcon v1.6.4 a bulk length below -1 or near the int limit ("$-2",
// "$9223372036854775807") indexes outside the packet and panics. A panic
// there is a protocol error of the client's, not a reason to stop the
// process; the parser is a pure function of its input, so nothing is left
// half-updated.
func parseCommand(packet []byte, argsbuf [][]byte) (complete bool, args [][]byte, kind redcon.Kind, rest []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			complete, args, rest = false, nil, nil
			err = fmt.Errorf("%w: invalid bulk length", errProtocol)
		}
	}()
	complete, args, kind, rest, err = redcon.ReadNextCommand(packet, argsbuf)
	if err != nil {
		err = redconError{err}
	}
	return complete, args, kind, rest, err
}

// redconError is a parse error from redcon, whose text already reads
// "Protocol error: ..."; it matches errProtocol.
type redconError struct{ err error }

func (e redconError) Error() string        { return e.err.Error() }
func (e redconError) Is(target error) bool { return target == errProtocol }
func (e redconError) Unwrap() error        { return e.err }

// fill reads more bytes from the connection (one Read), first moving a
// partial command to the front of the buffer or growing the buffer for
// it. It fails with errQueryTooLarge when a single command would need more
// than limit bytes.
func (rd *cmdReader) fill() error {
	if rd.start == rd.end {
		rd.start, rd.end = 0, 0
		if len(rd.buf) > keptReadBuffer {
			rd.buf = make([]byte, min(initialReadBuffer, rd.limit)) // a big command has passed
		}
	}
	if rd.end == len(rd.buf) {
		pending := rd.end - rd.start
		if pending >= rd.limit {
			return errQueryTooLarge
		}
		if rd.start > 0 && pending <= len(rd.buf)/2 {
			copy(rd.buf, rd.buf[rd.start:rd.end])
		} else {
			grown := make([]byte, min(2*len(rd.buf), rd.limit))
			copy(grown, rd.buf[rd.start:rd.end])
			rd.buf = grown
		}
		rd.start, rd.end = 0, pending
	}
	n, err := rd.r.Read(rd.buf[rd.end:])
	rd.end += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}
