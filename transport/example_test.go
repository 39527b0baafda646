package transport_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gridkv/gridkv/transport"
)

func Example() {
	cfg := transport.DefaultConfig() // 127.0.0.1, ephemeral port, net engine
	server, err := transport.Listen(cfg)
	if err != nil {
		panic(err)
	}
	defer server.Close()
	const typeGreet transport.MsgType = 1
	_ = server.Handle(typeGreet, func(_ context.Context, _ string, p []byte) ([]byte, error) {
		return append([]byte("hello, "), p...), nil
	})

	client, err := transport.Listen(cfg)
	if err != nil {
		panic(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := client.Call(ctx, server.Addr(), typeGreet, []byte("gridkv"))
	fmt.Println(string(resp), err)
	// Output: hello, gridkv <nil>
}

// A handler's typed error reaches the caller as a *RemoteError.
func ExampleRemoteError() {
	cfg := transport.DefaultConfig()
	cfg.Engine = transport.EngineGnet
	server, _ := transport.Listen(cfg)
	defer server.Close()
	const notLeader = transport.CodeUser + 1
	_ = server.Handle(1, func(context.Context, string, []byte) ([]byte, error) {
		return nil, &transport.RemoteError{Code: notLeader, Message: "ask node 3"}
	})
	client, _ := transport.Listen(cfg)
	defer client.Close()

	_, err := client.Call(context.Background(), server.Addr(), 1, nil)
	var re *transport.RemoteError
	if errors.As(err, &re) && re.Code == notLeader {
		fmt.Println("redirect:", re.Message)
	}
	// Output: redirect: ask node 3
}

// With a shared Key every connection is authenticated and encrypted.
func ExampleConfig_key() {
	cfg := transport.DefaultConfig()
	cfg.Key = []byte("0123456789abcdef0123456789abcdef") // 32 bytes: AES-256
	server, _ := transport.Listen(cfg)
	defer server.Close()
	_ = server.Handle(1, func(_ context.Context, _ string, p []byte) ([]byte, error) { return p, nil })

	client, _ := transport.Listen(cfg)
	defer client.Close()
	resp, err := client.Call(context.Background(), server.Addr(), 1, []byte("secret"))
	fmt.Println(string(resp), err)

	stranger, _ := transport.Listen(transport.DefaultConfig()) // no key
	defer stranger.Close()
	_, err = stranger.Call(context.Background(), server.Addr(), 1, []byte("let me in"))
	fmt.Println(errors.Is(err, transport.ErrUnauthenticated))
	// Output:
	// secret <nil>
	// true
}
