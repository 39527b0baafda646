package transport_test

import (
	"context"
	"testing"

	"github.com/gridkv/gridkv/transport"
	"github.com/gridkv/gridkv/transport/memnet"
)

func benchCall(b *testing.B, cli transport.Transport, addr string, size int) {
	payload := make([]byte, size)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(size))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := cli.Call(ctx, addr, typeEcho, payload); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkCall measures parallel 256-byte echo calls; the side-by-side
// comparisons with a raw socket and gRPC live in tools/bench/transport.
func BenchmarkCall(b *testing.B) {
	for _, e := range engines {
		for _, key := range [][]byte{nil, key1} {
			name := e.String()
			if key != nil {
				name += "-aead"
			}
			b.Run(name, func(b *testing.B) {
				cfg := testConfig(e)
				cfg.Key = key
				cfg.Packets = false
				srv, err := transport.Listen(cfg)
				if err != nil {
					b.Fatal(err)
				}
				defer srv.Close()
				_ = srv.Handle(typeEcho, echo)
				cli, err := transport.Listen(cfg)
				if err != nil {
					b.Fatal(err)
				}
				defer cli.Close()
				benchCall(b, cli, srv.Addr(), 256)
			})
		}
	}
	b.Run("memnet", func(b *testing.B) {
		n := memnet.NewNetwork(1)
		srv, _ := n.Listen("", memnet.DefaultConfig())
		defer srv.Close()
		_ = srv.Handle(typeEcho, echo)
		cli, _ := n.Listen("", memnet.DefaultConfig())
		defer cli.Close()
		benchCall(b, cli, srv.Addr(), 256)
	})
}

func BenchmarkFrameCodec(b *testing.B) {
	payload := make([]byte, 256)
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for range b.N {
		buf = transport.AppendFrame(buf[:0], transport.Header{Flags: transport.FlagRequest, Type: 1, ID: 42}, payload)
		if _, _, _, err := transport.DecodeFrame(buf, 1<<20); err != nil {
			b.Fatal(err)
		}
	}
}
