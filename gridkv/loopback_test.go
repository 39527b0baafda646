package gridkv

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gridkv/gridkv/transport"
)

// startLoopback starts size nodes on 127.0.0.1 with real sockets.
func startLoopback(t *testing.T, size int, engine transport.Engine, key []byte) []*Node {
	t.Helper()
	var nodes []*Node
	t.Cleanup(func() {
		for _, n := range nodes {
			n.Close()
		}
	})
	for i := range size {
		o := testOptions()
		o.BindAddr = "127.0.0.1:0"
		o.Engine = engine
		o.NodeID = fmt.Sprintf("n%d", i)
		o.ClusterKey = key
		if i > 0 {
			o.Seeds = []string{nodes[0].Addr()}
		}
		n, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = n.WaitReady(ctx)
		cancel()
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
	waitFor(t, 15*time.Second, "loopback ring convergence", func() bool {
		for _, n := range nodes {
			st := n.view.current()
			if st.ring.Len() != size {
				return false
			}
			for _, m := range nodes {
				if !st.healthy[m.id] {
					return false
				}
			}
		}
		return true
	})
	return nodes
}

func TestLoopbackCluster(t *testing.T) {
	for _, tc := range []struct {
		name   string
		engine transport.Engine
		key    []byte
	}{
		{"net", transport.EngineNet, nil},
		{"gnet", transport.EngineGnet, nil},
		{"net-encrypted", transport.EngineNet, []byte("0123456789abcdef0123456789abcdef")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nodes := startLoopback(t, 3, tc.engine, tc.key)
			ctx := ctxT(t)
			for i := range 50 {
				key := fmt.Sprintf("key-%d", i)
				if err := nodes[i%3].Set(ctx, key, []byte(key)); err != nil {
					t.Fatalf("Set(%s): %v", key, err)
				}
			}
			for i := range 50 {
				key := fmt.Sprintf("key-%d", i)
				v, err := nodes[(i+1)%3].Get(ctx, key, WithConsistency(All))
				if err != nil || string(v) != key {
					t.Fatalf("Get(%s) = %q, %v", key, v, err)
				}
			}
			if err := nodes[0].Delete(ctx, "key-0"); err != nil {
				t.Fatal(err)
			}
			if _, err := nodes[2].Get(ctx, "key-0"); err != ErrNotFound {
				t.Fatalf("Get after Delete = %v", err)
			}
			if m := nodes[0].Metrics(); m.BytesOut == 0 || m.Ops[OpSet].Count == 0 {
				t.Fatalf("metrics did not move: %+v", m)
			}
		})
	}
}

// TestLoopbackWrongKeyIsolated checks that a node without the cluster key
// cannot join: its traffic is dropped.
func TestLoopbackWrongKeyIsolated(t *testing.T) {
	nodes := startLoopback(t, 1, transport.EngineNet, []byte("0123456789abcdef0123456789abcdef"))
	o := testOptions()
	o.BindAddr = "127.0.0.1:0"
	o.NodeID = "intruder"
	o.ClusterKey = []byte("fedcba9876543210fedcba9876543210")
	o.Seeds = []string{nodes[0].Addr()}
	n, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	if err := n.WaitReady(ctx); err == nil {
		t.Fatal("a node with the wrong cluster key joined")
	}
	for _, m := range nodes[0].Members() {
		if m.ID == "intruder" {
			t.Fatal("the cluster lists the intruder")
		}
	}
}
