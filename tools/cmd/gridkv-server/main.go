// Command gridkv-server runs a GridKV node that speaks the Redis protocol,
// so that redis-cli, redis-benchmark and any Redis client library can use
// it. Run with --help for every setting.
//
//	gridkv-server                              # single node on 127.0.0.1:6380
//	gridkv-server --seeds 10.0.0.4:7480        # join a cluster (N=3)
//	gridkv-server --local-cluster 3            # 3 nodes on loopback: 6380-6382
//
// SIGTERM or SIGINT drains clients (their in-flight commands finish), then
// leaves the cluster gracefully and exits 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/gridkv/gridkv/gridkv"
	"github.com/gridkv/gridkv/tools/server"
)

func main() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	os.Exit(run(os.Args[1:], os.Getenv, os.Stderr, sig))
}

// instance is one node and its server.
type instance struct {
	node *gridkv.Node
	srv  *server.Server
}

// run is the whole command; it returns the exit code. It stops on a value
// from stop.
func run(args []string, getenv func(string) string, stderr io.Writer, stop <-chan os.Signal) int {
	s, err := load(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err == nil {
		err = s.checkPorts()
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	log, err := newLogger(s.logFormat, s.logLevel, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "gridkv-server:", err)
		return 2
	}
	defer func() { _ = log.Sync() }()

	count := max(s.localCluster, 1)
	var insts []instance
	shutdown := func() int {
		code := 0
		ctx, cancel := context.WithTimeout(context.Background(), s.drainTimeout)
		defer cancel()
		for _, in := range insts {
			if err := in.srv.Shutdown(ctx); err != nil {
				log.Warn("drain incomplete", zap.String("node", in.node.ID()), zap.Error(err))
				code = 1
			}
		}
		for _, in := range insts {
			if err := in.node.Close(); err != nil {
				log.Warn("node close", zap.String("node", in.node.ID()), zap.Error(err))
				code = 1
			}
		}
		return code
	}
	for i := range count {
		opts, err := s.nodeOptions(i)
		if err != nil {
			log.Error("invalid settings", zap.Error(err))
			shutdown()
			return 2
		}
		if s.localCluster > 0 && i > 0 {
			opts.Seeds = append(opts.Seeds, insts[0].node.Addr())
		}
		cfg, err := s.serverConfig(i)
		if err != nil {
			log.Error("invalid settings", zap.Error(err))
			shutdown()
			return 2
		}
		cfg.ReplicationFactor = opts.ReplicationFactor
		opts = cfg.NodeOptions(opts)
		opts.Logger = log
		node, err := gridkv.New(opts)
		if err != nil {
			log.Error("cannot start node", zap.Error(err))
			shutdown()
			if errors.Is(err, gridkv.ErrInvalidOptions) {
				return 2
			}
			return 1
		}
		cfg.Logger = log.With(zap.String("node", node.ID()))
		srv, err := server.New(node, cfg)
		if err == nil {
			err = srv.Start()
		}
		if err != nil {
			log.Error("cannot start server", zap.Error(err))
			_ = node.Close()
			shutdown()
			return 1
		}
		insts = append(insts, instance{node, srv})
		log.Info("serving", zap.String("node", node.ID()), zap.String("redis", srv.Addr()),
			zap.String("admin", srv.AdminAddr()), zap.String("cluster", node.Addr()),
			zap.Int("replication_factor", opts.ReplicationFactor), zap.Strings("seeds", opts.Seeds))
	}
	got := <-stop
	log.Info("shutting down: draining clients, then leaving the cluster", zap.String("signal", got.String()))
	start := time.Now()
	code := shutdown()
	log.Info("stopped", zap.Duration("took", time.Since(start)), zap.Int("exit_code", code))
	return code
}

func newLogger(format, level string, out io.Writer) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, err
	}
	var enc zapcore.Encoder
	switch format {
	case "console":
		ec := zap.NewDevelopmentEncoderConfig()
		ec.EncodeTime = zapcore.ISO8601TimeEncoder
		enc = zapcore.NewConsoleEncoder(ec)
	case "json":
		enc = zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	default:
		return nil, fmt.Errorf("log-format %q (want console or json)", format)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(out)), lvl)), nil
}
