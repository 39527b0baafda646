package gridkv

import (
	"testing"
	"time"
)

// remoteMsgsIn sums the frames the other nodes received from node 0.
func remoteMsgsIn(c *testCluster) uint64 {
	var sum uint64
	for _, n := range c.nodes[1:] {
		if p, ok := n.tr.Stats().Peer(c.nodes[0].Addr()); ok {
			sum += p.MsgsIn
		}
	}
	return sum
}

// TestQuorumReadAsksR checks that a QUORUM read (N=3, R=2) coordinated by a
// replica asks itself and one other replica, and that ReadHedge=0 restores
// asking all three.
func TestQuorumReadAsksR(t *testing.T) {
	const reads = 40
	for _, tt := range []struct {
		name    string
		hedge   bool
		perRead uint64 // remote requests per read
	}{
		{name: "hedged", hedge: true, perRead: 1},
		{name: "all at once", hedge: false, perRead: 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(t, 3, func(_ int, o *Options) {
				if !tt.hedge {
					o.ReadHedge = 0
				}
			})
			ctx := ctxT(t)
			coord := c.nodes[0]
			if err := coord.Set(ctx, "k", []byte("v"), WithConsistency(All)); err != nil {
				t.Fatal(err)
			}
			before := remoteMsgsIn(c)
			for range reads {
				if v, err := coord.Get(ctx, "k"); err != nil || string(v) != "v" {
					t.Fatalf("Get = %q, %v", v, err)
				}
			}
			// Requests past a read's quorum may still be on their way when
			// it returns: wait for them. Hedges (a slow scheduler under
			// -race) add at most one request each; gossip may add a few
			// messages of its own.
			want := tt.perRead * reads
			waitFor(t, 10*time.Second, "requests delivered", func() bool { return remoteMsgsIn(c)-before >= want })
			got := remoteMsgsIn(c) - before
			if slack := coord.Metrics().ReadHedges + 8; got > want+slack {
				t.Fatalf("%d reads sent %d requests to the other replicas, want %d (+%d)", reads, got, want, slack)
			}
		})
	}
}

// TestReadHedgesPastSilentReplica: the replica a read asks first stops
// answering (its messages are lost) before failure detection notices; the
// read asks the third replica after ReadHedge and succeeds.
func TestReadHedgesPastSilentReplica(t *testing.T) {
	c := newCluster(t, 3, nil)
	ctx := ctxT(t)
	coord := c.nodes[0]
	if err := coord.Set(ctx, "k", []byte("v"), WithConsistency(All)); err != nil {
		t.Fatal(err)
	}
	// The remote replica gather asks first: the first one after coord in
	// the preference list.
	var buf [maxReplicas]string
	var first string
	for _, id := range coord.preference(coord.view.current(), "k", buf[:]) {
		if id != coord.id {
			first = id
			break
		}
	}
	silent := -1
	for i, n := range c.nodes {
		if n.id == first {
			silent = i
		}
	}
	c.partition([]int{0}, []int{silent})
	defer c.net.Heal()
	before := coord.Metrics().ReadHedges
	if v, err := coord.Get(ctx, "k"); err != nil || string(v) != "v" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	if !coord.view.current().healthy[first] {
		t.Skip("failure detection marked the silent replica down before the read; nothing to hedge")
	}
	if got := coord.Metrics().ReadHedges - before; got != 1 {
		t.Fatalf("ReadHedges moved by %d, want 1", got)
	}
}
