package server

import (
	"io"
	"strconv"
	"testing"

	"github.com/tidwall/redcon"
)

// benchClient is a client whose replies are discarded: the benchmarks
// measure command execution (parsing excluded) on a single-node server.
func benchClient() *client {
	return &client{wr: redcon.NewWriter(io.Discard), authed: true}
}

func keys(n int) [][]byte {
	ks := make([][]byte, n)
	for i := range ks {
		ks[i] = []byte("key:" + strconv.Itoa(i))
	}
	return ks
}

// BenchmarkExecSet is SET key <64 bytes> through exec on a single node.
func BenchmarkExecSet(b *testing.B) {
	ts := startServer(b, 1, nil, nil)
	c, ks, val := benchClient(), keys(1<<16), make([]byte, 64)
	args := [][]byte{[]byte("SET"), nil, val} // as cmdReader hands them out: one slice reused
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		args[1] = ks[i&(1<<16-1)]
		ts.srv.exec(c, args)
		i++
		if i&15 == 0 {
			_ = c.wr.Flush()
		}
	}
}

// BenchmarkExecGet is GET of a present key through exec on a single node.
func BenchmarkExecGet(b *testing.B) {
	ts := startServer(b, 1, nil, nil)
	c, ks, val := benchClient(), keys(1<<16), make([]byte, 64)
	for _, k := range ks {
		ts.srv.exec(c, [][]byte{[]byte("SET"), k, val})
	}
	_ = c.wr.Flush()
	args := [][]byte{[]byte("GET"), nil}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		args[1] = ks[i&(1<<16-1)]
		ts.srv.exec(c, args)
		i++
		if i&15 == 0 {
			_ = c.wr.Flush()
		}
	}
}
