package server

import (
	"bytes"
	"io"
	"net"
	"testing"
)

// FuzzServeClient sends arbitrary bytes over a client connection to a
// single-node server: whatever a client sends, the server answers or drops
// that connection and never panics. The protocol is parsed by redcon; this
// checks the server's use of it, including malformed lengths, inline
// commands and pipelines cut anywhere.
func FuzzServeClient(f *testing.F) {
	const ping = "*1\r\n$4\r\nPING\r\n"
	for _, seed := range []string{
		ping,
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
		"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nEX\r\n$2\r\n-1\r\n",
		"*3\r\n$5\r\nMSET\r\n$1\r\na\r\n",
		"PING\r\nECHO hi\r\n",
		"*1\r\n$-2\r\n", // a negative bulk length (redcon's ReadNextCommand panics on it)
		"*1\r\n$9223372036854775807\r\n",
		"*9223372036854775807\r\n$4\r\nPING\r\n", // redcon.Reader spun on this
		"*-1\r\n",
		"*2\r\n$3\r\nGET\r\n$100\r\nshort\r\n",
		"*1\r\n$4\r\nPI",
		"$5 hello\r\n",
		"*2\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n",
		"*3\r\n$6\r\nGRIDKV\r\n$11\r\nCONSISTENCY\r\n$3\r\nALL\r\n*1\r\n$4\r\nQUIT\r\n",
	} {
		f.Add([]byte(seed))
	}
	ts := startServer(f, 1, nil, func(c *Config) { c.MaxQueryBytes = 4096 })
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := net.Dial("tcp", ts.srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var replies bytes.Buffer
		drained := make(chan struct{})
		go func() {
			defer close(drained)
			// Until the server closes the connection (after the replies
			// to everything it read, or on a protocol error).
			_, _ = io.Copy(&replies, io.LimitReader(c, 1<<20))
			_, _ = io.Copy(io.Discard, c)
		}()
		_, _ = c.Write(in) // fails if the server dropped the connection already
		_ = c.(*net.TCPConn).CloseWrite()
		<-drained
		// The harness really talks to the server: a lone PING is answered.
		if string(in) == ping && replies.String() != "+PONG\r\n" {
			t.Fatalf("PING answered %q", replies.String())
		}
	})
}
