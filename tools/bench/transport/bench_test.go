package transportbench

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gridkv/gridkv/tools/internal/cputime"
	"github.com/gridkv/gridkv/transport"
)

const typeEcho transport.MsgType = 1

func echo(_ context.Context, _ string, p []byte) ([]byte, error) { return p, nil }

// pair starts a server and a client transport of the given engine.
func pair(b *testing.B, engine transport.Engine, connsPerPeer int) (client, server *transport.Endpoint) {
	return pairWith(b, engine, connsPerPeer, false)
}

// pairWith optionally registers the echo handler with HandleInline (run on
// the reader / event loop, no pool hand-off).
func pairWith(b *testing.B, engine transport.Engine, connsPerPeer int, inline bool) (client, server *transport.Endpoint) {
	b.Helper()
	cfg := transport.DefaultConfig()
	cfg.Engine = engine
	cfg.Packets = false
	cfg.ConnsPerPeer = connsPerPeer
	srv, err := transport.Listen(cfg)
	if err != nil {
		b.Fatal(err)
	}
	register := srv.Handle
	if inline {
		register = srv.HandleInline
	}
	if err := register(typeEcho, echo); err != nil {
		b.Fatal(err)
	}
	cli, err := transport.Listen(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cli.Close(); srv.Close() })
	// Warm up every connection slot.
	for range 4 * connsPerPeer {
		if _, err := cli.Call(context.Background(), srv.Addr(), typeEcho, []byte("warm")); err != nil {
			b.Fatal(err)
		}
	}
	return cli, srv
}

// variants: the gridkv-net and gridkv-gnet (handlers on the ants
// pool, the default) plus the same with HandleInline.
var variants = []struct {
	name   string
	engine transport.Engine
	inline bool
}{
	{"gridkv-net", transport.EngineNet, false},
	{"gridkv-gnet", transport.EngineGnet, false},
	{"gridkv-net-inline", transport.EngineNet, true},
	{"gridkv-gnet-inline", transport.EngineGnet, true},
}

func BenchmarkTransportRTT(b *testing.B) {
	payload := make([]byte, 64)
	b.Run("raw-net", func(b *testing.B) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			buf := make([]byte, 64)
			for {
				if _, err := io.ReadFull(c, buf); err != nil {
					return
				}
				if _, err := c.Write(buf); err != nil {
					return
				}
			}
		}()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 64)
		b.ReportAllocs()
		cpu0 := cputime.Process()
		b.ResetTimer()
		for range b.N {
			if _, err := c.Write(payload); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(c, buf); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		reportCPU(b, cpu0)
		c.Close()
		ln.Close()
		wg.Wait()
	})
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			cli, srv := pairWith(b, v.engine, 1, v.inline)
			ctx := context.Background()
			b.ReportAllocs()
			cpu0 := cputime.Process()
			b.ResetTimer()
			for range b.N {
				if _, err := cli.Call(ctx, srv.Addr(), typeEcho, payload); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			reportCPU(b, cpu0)
		})
	}
}

// reportCPU reports the process's CPU time (client and server, user and
// system) per operation since cpu0. A round trip is a chain of work with
// one side idle at a time, so this is close to ns/op but much less
// sensitive to other processes competing for the cores.
func reportCPU(b *testing.B, cpu0 time.Duration) {
	if cpu := cputime.Process() - cpu0; cpu > 0 && b.N > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// parallel runs fn from callers goroutines until b.N calls are done and
// reports calls per second.
func parallel(b *testing.B, callers int, fn func() error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if err := fn(); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	if err := failed.Load(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "calls/s")
}

func BenchmarkTransportThroughput(b *testing.B) {
	const callers = 64
	payload := make([]byte, 1024)
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			cli, srv := pairWith(b, v.engine, 1, v.inline)
			ctx := context.Background()
			parallel(b, callers, func() error {
				_, err := cli.Call(ctx, srv.Addr(), typeEcho, payload)
				return err
			})
		})
	}
	b.Run("grpc", func(b *testing.B) {
		conn, stop := startGRPC(b)
		defer stop()
		ctx := context.Background()
		parallel(b, callers, func() error {
			in := payload
			var out []byte
			return conn.Invoke(ctx, "/bench.Echo/Echo", &in, &out)
		})
	})
}

// BenchmarkTransportConns compares the engines as connections grow: n
// connections (over one client for n <= 64, four clients of 64 for 256),
// max(64, n) callers, 1 KiB payload.
func BenchmarkTransportConns(b *testing.B) {
	payload := make([]byte, 1024)
	for _, n := range []int{1, 16, 256} {
		for _, eng := range []transport.Engine{transport.EngineNet, transport.EngineGnet} {
			b.Run(fmt.Sprintf("%s/conns=%d", eng, n), func(b *testing.B) {
				clients, per := 1, n
				if n > 64 {
					clients, per = n/64, 64
				}
				cli, srv := pair(b, eng, per)
				all := []*transport.Endpoint{cli}
				for range clients - 1 {
					c, _ := pair2(b, eng, per, srv)
					all = append(all, c)
				}
				var rr atomic.Uint32
				ctx := context.Background()
				parallel(b, max(64, n), func() error {
					c := all[int(rr.Add(1))%len(all)]
					_, err := c.Call(ctx, srv.Addr(), typeEcho, payload)
					return err
				})
			})
		}
	}
}

// pair2 adds another client for an existing server.
func pair2(b *testing.B, engine transport.Engine, connsPerPeer int, srv *transport.Endpoint) (*transport.Endpoint, *transport.Endpoint) {
	cfg := transport.DefaultConfig()
	cfg.Engine = engine
	cfg.Packets = false
	cfg.ConnsPerPeer = connsPerPeer
	cli, err := transport.Listen(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cli.Close() })
	for range 4 * connsPerPeer {
		if _, err := cli.Call(context.Background(), srv.Addr(), typeEcho, []byte("warm")); err != nil {
			b.Fatal(err)
		}
	}
	return cli, srv
}

// rawCodec passes []byte through unchanged, so gRPC needs no generated
// code; its cost is the same order as a trivial proto message.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "raw" }

type echoServer interface{}

var echoDesc = grpc.ServiceDesc{
	ServiceName: "bench.Echo",
	HandlerType: (*echoServer)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Echo",
		Handler: func(_ any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			var in []byte
			if err := dec(&in); err != nil {
				return nil, err
			}
			return &in, nil
		},
	}},
}

func startGRPC(b *testing.B) (*grpc.ClientConn, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := grpc.NewServer(grpc.ForceServerCodec(rawCodec{}))
	srv.RegisterService(&echoDesc, struct{}{})
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	conn, err := grpc.NewClient(ln.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
	if err != nil {
		b.Fatal(err)
	}
	return conn, func() { conn.Close(); srv.Stop(); <-done }
}
