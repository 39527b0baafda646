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
// reuses its argument lists, so reading a pipeline allocates nothing; the
// arguments commands returns alias that buffer and stay valid only until
// fill runs again. (redcon.Reader, used before, copied every command and
// walked the whole element count of a multi-bulk header even when none of
// the elements had arrived: "*20000000000\r\n" kept a core busy for 12 s.)
type cmdReader struct {
	r          io.Reader
	buf        []byte // buf[start:end] is read and not yet parsed
	start, end int
	limit      int // the most bytes one command may take (MaxQueryBytes)

	// commands' results, reused: every argument of the batch in flat,
	// where each command ends in ends, the commands as slices of flat.
	flat [][]byte
	ends []int
	cmds [][][]byte
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

// commands parses every complete command buffered and returns them, each
// as its arguments; they alias the read buffer and stay valid until fill
// runs again. err is a protocol error met after the commands returned.
// Empty commands (a blank inline line, "*0") are skipped.
func (rd *cmdReader) commands() (cmds [][][]byte, err error) {
	rd.flat, rd.ends = rd.flat[:0], rd.ends[:0]
	for rd.start < rd.end {
		// The parser appends the arguments to the unused tail of flat.
		complete, args, kind, rest, perr := parseCommand(rd.buf[rd.start:rd.end], rd.flat[len(rd.flat):])
		if perr != nil {
			err = perr
			break
		}
		if !complete {
			break
		}
		if kind == redcon.Tile38 {
			err = fmt.Errorf("%w: expected '*', got '$'", errProtocol)
			break
		}
		rd.start = rd.end - len(rest)
		if len(args) > 0 {
			rd.flat = append(rd.flat, args...)
			rd.ends = append(rd.ends, len(rd.flat))
		}
	}
	rd.cmds = rd.cmds[:0]
	begin := 0
	for _, end := range rd.ends {
		rd.cmds = append(rd.cmds, rd.flat[begin:end:end])
		begin = end
	}
	return rd.cmds, err
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
