package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
)

// trickle is a reader that returns at most step bytes per Read.
type trickle struct {
	data []byte
	step int
}

func (t *trickle) Read(p []byte) (int, error) {
	if len(t.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), t.step, len(t.data))
	copy(p, t.data[:n])
	t.data = t.data[n:]
	return n, nil
}

// readAll drives rd as serveClient does: every complete command, then one
// more read.
func readAll(rd *cmdReader) ([][]string, error) {
	var got [][]string
	for {
		cmds, err := rd.commands()
		for _, args := range cmds {
			cmd := make([]string, len(args))
			for i, a := range args {
				cmd[i] = string(a)
			}
			got = append(got, cmd)
		}
		if err != nil {
			return got, err
		}
		if err := rd.fill(); err != nil {
			return got, err
		}
	}
}

func appendRESP(b []byte, args ...string) []byte {
	b = fmt.Appendf(b, "*%d\r\n", len(args))
	for _, a := range args {
		b = fmt.Appendf(b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b
}

// TestCmdReader feeds one stream of commands (small ones, inline ones and
// one larger than the initial buffer) in pieces of every size: the commands
// come out whole and in order however the reads cut them.
func TestCmdReader(t *testing.T) {
	var in []byte
	var want [][]string
	for i := range 200 {
		args := []string{"SET", fmt.Sprint("key:", i), strings.Repeat("v", i%70)}
		if i == 100 {
			args[2] = strings.Repeat("big", 5000) // 15000 bytes: the buffer grows
		}
		in = appendRESP(in, args...)
		want = append(want, args)
		if i%50 == 0 {
			in = append(in, "PING hello\r\n"...) // an inline command
			want = append(want, []string{"PING", "hello"})
		}
	}
	for _, step := range []int{1, 3, 100, 4096, 1 << 20} {
		t.Run(fmt.Sprint("step=", step), func(t *testing.T) {
			got, err := readAll(newCmdReader(&trickle{data: in, step: step}, 1<<20))
			if !errors.Is(err, io.EOF) {
				t.Fatalf("ended with %v, want EOF", err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d commands, want %d", len(got), len(want))
			}
			for i := range want {
				if !slices.Equal(got[i], want[i]) {
					t.Fatalf("command %d: got %.60q, want %.60q", i, got[i], want[i])
				}
			}
		})
	}
}

// TestCmdReaderLimits: a command that needs more than the limit ends the
// stream with errQueryTooLarge, and malformed input with errProtocol, after
// the commands before it.
func TestCmdReaderLimits(t *testing.T) {
	big := appendRESP(nil, "SET", "k", strings.Repeat("x", 9000))
	_, err := readAll(newCmdReader(bytes.NewReader(big), 4096))
	if !errors.Is(err, errQueryTooLarge) {
		t.Fatalf("9 KB command with a 4 KB limit: %v, want errQueryTooLarge", err)
	}
	for _, bad := range []string{"*x\r\n", "*1\r\n$-2\r\n", "*1\r\n$9223372036854775807\r\n", "*1\r\n+PING\r\n", "$5 hello\r\n"} {
		in := appendRESP(nil, "PING")
		in = append(in, bad...)
		got, err := readAll(newCmdReader(bytes.NewReader(in), 4096))
		if !errors.Is(err, errProtocol) {
			t.Fatalf("%q: %v, want errProtocol", bad, err)
		}
		if len(got) != 1 || got[0][0] != "PING" {
			t.Fatalf("%q: commands before it: %q, want [[PING]]", bad, got)
		}
	}
}

// BenchmarkCmdReader parses a pipeline of 16 SETs (64-byte values), as
// redis-benchmark -P 16 sends them.
func BenchmarkCmdReader(b *testing.B) {
	var pipeline []byte
	for i := range 16 {
		pipeline = appendRESP(pipeline, "SET", fmt.Sprintf("key:%012d", i), strings.Repeat("v", 64))
	}
	src := &repeatReader{data: pipeline}
	rd := newCmdReader(src, 1<<20)
	b.ReportAllocs()
	b.SetBytes(int64(len(pipeline)))
	for b.Loop() {
		src.left = len(pipeline)
		n := 0
		for n < 16 {
			if err := rd.fill(); err != nil {
				b.Fatal(err)
			}
			cmds, err := rd.commands()
			if err != nil {
				b.Fatal(err)
			}
			n += len(cmds)
		}
	}
}

// repeatReader returns data once per refill (left bytes, from its start).
type repeatReader struct {
	data []byte
	left int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.data[len(r.data)-r.left:])
	r.left -= n
	return n, nil
}
