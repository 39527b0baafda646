package server

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gridkv/gridkv/gridkv"
)

// manualClock is the server's injected wall clock for expiry tests.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (m *manualClock) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.t
}

func (m *manualClock) Advance(d time.Duration) {
	m.mu.Lock()
	m.t = m.t.Add(d)
	m.mu.Unlock()
}

type testServer struct {
	node *gridkv.Node
	srv  *Server
}

func (ts testServer) port() string { return portOf(ts.srv.Addr()) }

// startServer starts a node and its server on loopback ephemeral ports.
func startServer(t testing.TB, n int, seeds []string, mod func(*Config)) testServer {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Addr, cfg.AdminAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.ReplicationFactor = n
	cfg.DrainTimeout = 5 * time.Second
	if mod != nil {
		mod(&cfg)
	}
	opts := gridkv.DefaultOptions()
	opts.BindAddr = "127.0.0.1:0"
	opts.ReplicationFactor = n
	opts.Seeds = seeds
	opts.Gossip = gridkv.GossipLocal
	opts.AntiEntropyInterval = 0
	node, err := gridkv.New(cfg.NodeOptions(opts))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(node, cfg)
	if err != nil {
		node.Close()
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		node.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := node.Close(); err != nil {
			t.Errorf("node close: %v", err)
		}
	})
	return testServer{node, srv}
}

// startCluster starts n nodes with replication factor n and waits until
// every node sees all of them alive in its ring.
func startCluster(t testing.TB, n int) []testServer {
	t.Helper()
	first := startServer(t, n, nil, nil)
	out := []testServer{first}
	for i := 1; i < n; i++ {
		out = append(out, startServer(t, n, []string{first.node.Addr()}, nil))
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, ts := range out {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Until(deadline))
			err := ts.node.WaitReady(ctx)
			cancel()
			if err != nil {
				t.Fatalf("node %s not ready: %v", ts.node.ID(), err)
			}
			alive := 0
			for _, m := range ts.node.Members() {
				if m.State == "alive" && m.InRing {
					alive++
				}
			}
			if alive == n && ts.node.Ring().Len() == n {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %s sees %d of %d members alive", ts.node.ID(), alive, n)
			}
			// Membership converges through gossip rounds: poll the
			// condition, there is no event to wait on from outside.
			time.Sleep(20 * time.Millisecond)
		}
	}
	return out
}

// requireRedisCLI skips loudly when redis-cli is not installed.
func requireRedisCLI(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skip("SKIPPED: redis-cli not found in PATH; install it with `apt-get install -y redis-tools` (CI does) to run the Redis protocol tests")
	}
	return p
}

// cli runs redis-cli against ts and returns its trimmed output.
func cli(t *testing.T, port string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	full := append([]string{"-h", "127.0.0.1", "-p", port}, args...)
	cmd := exec.CommandContext(ctx, "redis-cli", full...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("redis-cli %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return strings.TrimRight(out.String(), "\n")
}

func lines(s ...string) string { return strings.Join(s, "\n") }

func itoa(i int) string { return fmt.Sprint(i) }
