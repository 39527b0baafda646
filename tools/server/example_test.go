package server_test

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gridkv/gridkv/gridkv"
	"github.com/gridkv/gridkv/tools/server"
)

// A single node served over the Redis protocol, used with go-redis.
func Example() {
	cfg := server.DefaultConfig()
	cfg.Addr, cfg.AdminAddr = "127.0.0.1:0", "127.0.0.1:0"
	opts := gridkv.DefaultOptions()
	opts.BindAddr, opts.ReplicationFactor = "127.0.0.1:0", 1
	node, err := gridkv.New(cfg.NodeOptions(opts))
	if err != nil {
		panic(err)
	}
	srv, err := server.New(node, cfg)
	if err != nil {
		panic(err)
	}
	if err := srv.Start(); err != nil {
		panic(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx) // drain clients first,
		_ = node.Close()      // then leave the cluster
	}()

	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	fmt.Println(rdb.Set(ctx, "greeting", "hello", time.Minute).Val())
	fmt.Println(rdb.Get(ctx, "greeting").Val())
	fmt.Println(rdb.TTL(ctx, "greeting").Val())
	fmt.Println(rdb.SetNX(ctx, "greeting", "again", 0).Val())
	// Output:
	// OK
	// hello
	// 1m0s
	// false
}
