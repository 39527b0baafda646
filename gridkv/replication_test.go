package gridkv

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gridkv/gridkv/hlc"
	"github.com/gridkv/gridkv/storage"
)

// holders returns the live nodes whose local store has a live value for key.
func holders(c *testCluster, key string) []*Node {
	var out []*Node
	for _, n := range c.live() {
		if _, err := n.store.Get([]byte(key), nil); err == nil {
			out = append(out, n)
		}
	}
	return out
}

func TestQuorumTable(t *testing.T) {
	tests := []struct {
		name       string
		n, w, r    int
		down       int // nodes killed before the operations
		opts       []CallOption
		wantSet    error
		wantGet    error
		wantCopies int // live replicas holding the value right after Set (at least)
	}{
		{name: "N3 W2 R2 all up", n: 3, w: 2, r: 2, wantCopies: 2},
		{name: "N3 W3 R1 all up", n: 3, w: 3, r: 1, wantCopies: 3},
		{name: "N3 W1 R3 all up", n: 3, w: 1, r: 3, wantCopies: 1},
		{name: "N3 W2 R2 one down", n: 3, w: 2, r: 2, down: 1, wantCopies: 2},
		{name: "N3 ALL one down", n: 3, w: 2, r: 2, down: 1, opts: []CallOption{WithConsistency(All)}, wantSet: ErrQuorum, wantGet: ErrQuorum},
		{name: "N3 W2 R2 two down", n: 3, w: 2, r: 2, down: 2, wantSet: ErrQuorum, wantGet: ErrQuorum},
		{name: "N3 ONE two down", n: 3, w: 2, r: 2, down: 2, opts: []CallOption{WithConsistency(One)}, wantCopies: 1},
		{name: "N1 single copy", n: 1, w: 1, r: 1, wantCopies: 1},
		{name: "explicit W3 R3", n: 3, w: 1, r: 1, opts: []CallOption{WithW(3), WithR(3)}, wantCopies: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(t, 3, func(i int, o *Options) {
				o.ReplicationFactor, o.WriteQuorum, o.ReadQuorum = tt.n, tt.w, tt.r
			})
			for i := 1; i <= tt.down; i++ {
				c.nodes[i].Kill()
			}
			coord := c.nodes[0]
			if tt.down > 0 {
				waitFor(t, 10*time.Second, "failure detection", func() bool {
					st := coord.view.current()
					for i := 1; i <= tt.down; i++ {
						if st.healthy[c.nodes[i].id] {
							return false
						}
					}
					return true
				})
			}
			ctx := ctxT(t)
			err := coord.Set(ctx, "key", []byte("value"), tt.opts...)
			if !errors.Is(err, tt.wantSet) || (tt.wantSet == nil && err != nil) {
				t.Fatalf("Set = %v, want %v", err, tt.wantSet)
			}
			if tt.wantSet != nil {
				var qe *QuorumError
				if !errors.As(err, &qe) || qe.Acked >= qe.Needed {
					t.Fatalf("Set error %v is not a QuorumError with Acked < Needed", err)
				}
			}
			v, err := coord.Get(ctx, "key", tt.opts...)
			if tt.wantGet != nil {
				if !errors.Is(err, tt.wantGet) {
					t.Fatalf("Get = %q, %v; want %v", v, err, tt.wantGet)
				}
			} else if tt.wantSet == nil && (err != nil || string(v) != "value") {
				t.Fatalf("Get = %q, %v", v, err)
			}
			if tt.wantSet == nil {
				if got := len(holders(c, "key")); got < tt.wantCopies {
					t.Fatalf("%d live replicas hold the value, want at least %d", got, tt.wantCopies)
				}
			}
		})
	}
}

func TestReplicaDownHintDeliveredOnReturn(t *testing.T) {
	c := newCluster(t, 3, nil)
	ctx := ctxT(t)
	c.nodes[2].Kill()
	waitFor(t, 10*time.Second, "n2 marked down", func() bool { return !c.nodes[0].view.current().healthy["n2"] })

	// One value buffer, scribbled over after each Set: Set keeps no
	// reference to it, hints included.
	buf := make([]byte, 0, 16)
	for i := range 20 {
		buf = fmt.Appendf(buf[:0], "v%d", i)
		if err := c.nodes[0].Set(ctx, fmt.Sprintf("k%d", i), buf); err != nil {
			t.Fatalf("Set with a replica down: %v", err)
		}
		copy(buf, "XXXX")
	}
	if m := c.nodes[0].Metrics(); m.HintsStored < 20 || m.HintsPending < 20 {
		t.Fatalf("hints stored %d pending %d, want >= 20", m.HintsStored, m.HintsPending)
	}
	n2 := c.start(2) // same ID and address, empty store
	c.waitConverged()
	// Pending drops when a batch is taken for sending; Delivered moves when
	// the replica acknowledged it.
	waitFor(t, 10*time.Second, "hints delivered", func() bool { return c.nodes[0].Metrics().HintsDelivered >= 20 })
	if p := c.nodes[0].Metrics().HintsPending; p != 0 {
		t.Fatalf("HintsPending = %d after delivery", p)
	}
	for i := range 20 {
		v, err := n2.store.Get([]byte(fmt.Sprintf("k%d", i)), nil)
		if err != nil || string(v) != fmt.Sprintf("v%d", i) {
			t.Fatalf("k%d on the returned replica: %q, %v", i, v, err)
		}
	}
}

func TestReadRepairFixesStaleReplica(t *testing.T) {
	c := newCluster(t, 3, func(_ int, o *Options) { o.MaxHints = 0 }) // no hinted handoff: only read repair can fix n2
	ctx := ctxT(t)
	if err := c.nodes[0].Set(ctx, "k", []byte("old"), WithConsistency(All)); err != nil {
		t.Fatal(err)
	}
	c.partition([]int{0, 1}, []int{2})
	c.waitSplit([]int{0, 1}, []int{2})
	if err := c.nodes[0].Set(ctx, "k", []byte("new")); err != nil {
		t.Fatal(err)
	}
	c.net.Heal()
	c.waitConverged()
	if got, _ := c.nodes[2].store.Get([]byte("k"), nil); string(got) != "old" {
		t.Fatalf("n2 holds %q before the read; the test needs it stale", got)
	}
	v, err := c.nodes[1].Get(ctx, "k", WithConsistency(All))
	if err != nil || string(v) != "new" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	got, err := c.nodes[2].store.Get([]byte("k"), nil)
	if err != nil || string(got) != "new" {
		t.Fatalf("after a blocking read repair n2 holds %q, %v", got, err)
	}
	if c.nodes[1].Metrics().ReadRepairs == 0 {
		t.Fatal("ReadRepairs did not move")
	}
}

// partition cuts nodes of group a off from nodes of group b.
func (c *testCluster) partition(a, b []int) {
	var aa, bb []string
	for _, i := range a {
		aa = append(aa, addrOf(i))
	}
	for _, i := range b {
		bb = append(bb, addrOf(i))
	}
	c.net.Partition(aa, bb)
}

func (c *testCluster) waitSplit(a, b []int) {
	c.t.Helper()
	waitFor(c.t, 15*time.Second, "partition detected", func() bool {
		for _, i := range a {
			for _, j := range b {
				if c.nodes[i].view.current().healthy[c.nodes[j].id] || c.nodes[j].view.current().healthy[c.nodes[i].id] {
					return false
				}
			}
		}
		return true
	})
}

func (c *testCluster) antiEntropyAll(ctx context.Context) {
	c.t.Helper()
	for _, n := range c.live() {
		if _, err := n.AntiEntropyAll(ctx); err != nil {
			c.t.Fatalf("%s: anti-entropy: %v", n.id, err)
		}
	}
}

func TestDeleteNotResurrectedAfterHeal(t *testing.T) {
	c := newCluster(t, 3, func(_ int, o *Options) { o.MaxHints = 0 }) // repair by anti-entropy alone
	ctx := ctxT(t)
	if err := c.nodes[0].Set(ctx, "k", []byte("v"), WithConsistency(All)); err != nil {
		t.Fatal(err)
	}
	c.partition([]int{0, 1}, []int{2})
	c.waitSplit([]int{0, 1}, []int{2})
	if err := c.nodes[0].Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.nodes[2].store.Get([]byte("k"), nil); err != nil {
		t.Fatal("n2 should still hold the value during the partition")
	}
	c.net.Heal()
	c.waitConverged()
	c.antiEntropyAll(ctx)
	for _, n := range c.live() {
		if v, err := n.Get(ctx, "k", WithConsistency(One)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s: Get = %q, %v after heal; the delete was undone", n.id, v, err)
		}
		e, err := n.store.GetEntry([]byte("k"), nil)
		if err != nil || !e.Tombstone {
			t.Fatalf("%s: entry %+v, %v; want a tombstone", n.id, e, err)
		}
	}
}

func TestDivergedReplicasConvergeByAntiEntropy(t *testing.T) {
	c := newCluster(t, 3, func(_ int, o *Options) { o.MaxHints = 0 })
	ctx := ctxT(t)
	c.partition([]int{0, 1}, []int{2})
	c.waitSplit([]int{0, 1}, []int{2})
	for i := range 50 {
		if err := c.nodes[0].Set(ctx, fmt.Sprintf("a%d", i), []byte("from-majority")); err != nil {
			t.Fatal(err)
		}
		if err := c.nodes[2].Set(ctx, fmt.Sprintf("b%d", i), []byte("from-minority"), WithConsistency(One)); err != nil {
			t.Fatal(err)
		}
	}
	// The same key written on both sides: the later write must win everywhere.
	if err := c.nodes[2].Set(ctx, "both", []byte("first"), WithConsistency(One)); err != nil {
		t.Fatal(err)
	}
	// The two sides exchange no messages, so only wall time orders their
	// writes, at the clock's resolution (hlc.Tick): let more than that pass.
	time.Sleep(10 * hlc.Tick)
	if err := c.nodes[0].Set(ctx, "both", []byte("second")); err != nil {
		t.Fatal(err)
	}
	c.net.Heal()
	c.waitConverged()
	c.antiEntropyAll(ctx)
	if c.nodes[0].Metrics().AntiEntropyKeysRepaired+c.nodes[1].Metrics().AntiEntropyKeysRepaired+c.nodes[2].Metrics().AntiEntropyKeysRepaired == 0 {
		t.Fatal("anti-entropy repaired nothing")
	}
	for _, key := range []string{"a0", "a49", "b0", "b49", "both"} {
		var first storage.Entry
		for i, n := range c.live() {
			e, err := n.store.GetEntry([]byte(key), nil)
			if err != nil {
				t.Fatalf("%s: %s missing after anti-entropy: %v", n.id, key, err)
			}
			if i == 0 {
				first = e
			} else if e.Version != first.Version || string(e.Value) != string(first.Value) {
				t.Fatalf("%s: %s = %q, others %q", n.id, key, e.Value, first.Value)
			}
		}
		if key == "both" && string(first.Value) != "second" {
			t.Fatalf("both = %q, want the later write", first.Value)
		}
	}
	// A second pass finds nothing left to repair.
	for _, n := range c.live() {
		if k, err := n.AntiEntropyAll(ctx); err != nil || k != 0 {
			t.Fatalf("%s: second anti-entropy pass repaired %d, %v", n.id, k, err)
		}
	}
}

func TestMembershipChangesKeepKeysReadable(t *testing.T) {
	c := newCluster(t, 3, nil)
	ctx := ctxT(t)
	const keys = 200
	for i := range keys {
		if err := c.nodes[0].Set(ctx, fmt.Sprintf("key-%d", i), []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	var misses, reads atomic.Int64
	var firstMiss atomic.Value
	stop := make(chan struct{})
	coord := c.nodes[0]
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i = (i + 1) % keys {
			select {
			case <-stop:
				return
			default:
			}
			rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			v, err := coord.Get(rctx, fmt.Sprintf("key-%d", i))
			cancel()
			reads.Add(1)
			if err != nil || string(v) != fmt.Sprint(i) {
				misses.Add(1)
				firstMiss.CompareAndSwap(nil, fmt.Sprintf("key-%d: %q, %v", i, v, err))
			}
		}
	}()
	c.start(3)
	c.waitConverged()
	waitFor(t, 15*time.Second, "rebalancing after join", func() bool { return c.rebalanced() })
	if err := c.nodes[1].Close(); err != nil { // graceful leave
		t.Fatal(err)
	}
	c.waitConverged()
	waitFor(t, 15*time.Second, "rebalancing after leave", func() bool { return c.rebalanced() })
	// Let the reader cover every key once more on the final ring.
	after := reads.Load()
	waitFor(t, 30*time.Second, "a full pass of reads after the changes", func() bool { return reads.Load() >= after+keys })
	close(stop)
	wg.Wait()
	if m := misses.Load(); m != 0 {
		t.Fatalf("%d of %d reads missed during membership changes; first: %v", m, reads.Load(), firstMiss.Load())
	}
	// Every key now lives on its full replica set in the final ring.
	for i := range keys {
		key := fmt.Sprintf("key-%d", i)
		st := c.nodes[0].view.current()
		prefs, _ := st.ring.Replicas(key, 3, nil)
		for _, id := range prefs {
			for _, n := range c.live() {
				if n.id == id {
					if _, err := n.store.Get([]byte(key), nil); err != nil {
						t.Fatalf("%s should replicate %s after rebalancing: %v", id, key, err)
					}
				}
			}
		}
	}
}

// rebalanced reports whether every live node has finished its range moves.
func (c *testCluster) rebalanced() bool {
	for _, n := range c.live() {
		if n.Metrics().RebalanceRangesPending != 0 {
			return false
		}
	}
	return true
}

func TestNodeRestartRecovers(t *testing.T) {
	c := newCluster(t, 3, nil)
	ctx := ctxT(t)
	for i := range 30 {
		if err := c.nodes[0].Set(ctx, fmt.Sprintf("before-%d", i), []byte("x"), WithConsistency(All)); err != nil {
			t.Fatal(err)
		}
	}
	c.nodes[1].Kill()
	waitFor(t, 10*time.Second, "n1 marked down", func() bool { return !c.nodes[0].view.current().healthy["n1"] })
	for i := range 30 {
		if err := c.nodes[0].Set(ctx, fmt.Sprintf("during-%d", i), []byte("y")); err != nil {
			t.Fatal(err)
		}
	}
	n1 := c.start(1)
	c.waitConverged()
	c.antiEntropyAll(ctx)
	waitFor(t, 10*time.Second, "hints delivered", func() bool { return c.nodes[0].Metrics().HintsPending == 0 })
	for _, p := range []string{"before", "during"} {
		for i := range 30 {
			key := fmt.Sprintf("%s-%d", p, i)
			if _, err := n1.store.Get([]byte(key), nil); err != nil {
				t.Fatalf("restarted node lacks %s: %v", key, err)
			}
			if v, err := n1.Get(ctx, key, WithConsistency(One)); err != nil || len(v) != 1 {
				t.Fatalf("restarted node: Get(%s) = %q, %v", key, v, err)
			}
		}
	}
}

func TestBadInputs(t *testing.T) {
	c := newCluster(t, 1, func(_ int, o *Options) {
		o.ReplicationFactor = 1
		o.MaxKeySize, o.MaxValueSize = 16, 32
	})
	n := c.nodes[0]
	ctx := ctxT(t)
	checks := []struct {
		name string
		err  error
		want error
	}{
		{"empty key set", n.Set(ctx, "", []byte("v")), ErrEmptyKey},
		{"empty key get", func() error { _, err := n.Get(ctx, ""); return err }(), ErrEmptyKey},
		{"empty key delete", n.Delete(ctx, ""), ErrEmptyKey},
		{"long key", n.Set(ctx, "0123456789abcdefX", []byte("v")), ErrKeyTooLarge},
		{"long value", n.Set(ctx, "k", make([]byte, 33)), ErrValueTooLarge},
		{"bad W", n.Set(ctx, "k", nil, WithW(2)), ErrInvalidOptions},
		{"bad R", func() error { _, err := n.Get(ctx, "k", WithR(2)); return err }(), ErrInvalidOptions},
		{"negative TTL", n.Set(ctx, "k", nil, WithTTL(-time.Second)), ErrInvalidOptions},
		{"missing key", func() error { _, err := n.Get(ctx, "absent"); return err }(), ErrNotFound},
	}
	for _, ch := range checks {
		if !errors.Is(ch.err, ch.want) {
			t.Errorf("%s: err = %v, want %v", ch.name, ch.err, ch.want)
		}
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	// A single local replica answers before the context is consulted; with a
	// remote quorum the context error surfaces (see TestContextDeadline).
	if err := n.Set(cancelled, "k", []byte("v")); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("Set with cancelled ctx: %v", err)
	}
	n.Close()
	if err := n.Set(ctx, "k", []byte("v")); !errors.Is(err, ErrClosed) {
		t.Errorf("Set after Close = %v", err)
	}
	if _, err := n.Get(ctx, "k"); !errors.Is(err, ErrClosed) {
		t.Errorf("Get after Close = %v", err)
	}
	if err := n.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestContextDeadline(t *testing.T) {
	c := newCluster(t, 3, nil)
	// Stall every message: calls can only end by their context.
	c.net.SetDelay(func(_ *rand.Rand) time.Duration { return time.Hour })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := c.nodes[0].Set(ctx, "k", []byte("v"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Set = %v, want context.DeadlineExceeded", err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := c.nodes[0].Get(ctx2, "k", WithConsistency(All)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get = %v, want context.Canceled", err)
	}
	c.net.SetDelay(nil)
}
