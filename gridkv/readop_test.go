package gridkv

import (
	"testing"
	"time"

	"github.com/gridkv/gridkv/storage"
)

// staleCluster returns a 3-node cluster where n0 and n1 hold "new" for k
// and n2 still holds "old", with the entries each holds.
func staleCluster(t *testing.T) (c *testCluster, newer, older storage.Entry) {
	t.Helper()
	c = newCluster(t, 3, func(_ int, o *Options) { o.MaxHints = 0 })
	ctx := ctxT(t)
	if err := c.nodes[0].Set(ctx, "k", []byte("old"), WithConsistency(All)); err != nil {
		t.Fatal(err)
	}
	older, err := c.nodes[2].store.GetEntry([]byte("k"), nil)
	if err != nil {
		t.Fatal(err)
	}
	newer = older
	newer.Value = []byte("new")
	newer.Version = makeVersion(c.nodes[0].clock.Now(), c.nodes[0].tiebreak)
	for _, n := range c.nodes[:2] {
		if _, err := n.store.Put([]byte("k"), newer); err != nil {
			t.Fatal(err)
		}
	}
	return c, newer, older
}

// TestReadOpRepairsLateAnswers drives a read's phases by hand: a stale
// answer that arrives after the coordinator has its quorum is repaired in
// the background, whether it arrives before or after the read is settled,
// and an up-to-date late answer causes no repair.
func TestReadOpRepairsLateAnswers(t *testing.T) {
	for _, when := range []string{"decided", "settled"} {
		t.Run(when, func(t *testing.T) {
			c, newer, older := staleCluster(t)
			coord := c.nodes[1]
			rd := coord.newRead("k")
			rd.pending = 3 // as if asked: n0, n1, n2
			rd.deliver(replicaResult{target: c.nodes[0].id, entry: newer, found: true})
			rd.deliver(replicaResult{target: c.nodes[1].id, entry: newer, found: true})
			answers, errs, err := rd.wait(ctxT(t), 2)
			if err != nil || len(answers) != 2 || len(errs) != 0 {
				t.Fatalf("wait = %d answers, %v, %v", len(answers), errs, err)
			}
			before := coord.Metrics().ReadRepairs
			late := replicaResult{target: c.nodes[2].id, entry: older, found: true}
			if when == "decided" {
				rd.deliver(late)
				if got := coord.Metrics().ReadRepairs; got != before {
					t.Fatalf("a late answer was repaired before the read was settled (%d repairs)", got-before)
				}
				rd.settle(newestOf(answers))
			} else {
				rd.settle(newestOf(answers))
				rd.deliver(late)
			}
			if len(answers) != 2 {
				t.Fatalf("the late answer changed the coordinator's answers: %d", len(answers))
			}
			if got := coord.Metrics().ReadRepairs; got != before+1 {
				t.Fatalf("ReadRepairs moved by %d, want 1", got-before)
			}
			waitFor(t, 10*time.Second, "n2 repaired", func() bool {
				v, err := c.nodes[2].store.Get([]byte("k"), nil)
				return err == nil && string(v) == "new"
			})
		})
	}
	t.Run("up to date", func(t *testing.T) {
		c, newer, _ := staleCluster(t)
		coord := c.nodes[1]
		rd := coord.newRead("k")
		rd.pending = 2
		rd.deliver(replicaResult{target: c.nodes[0].id, entry: newer, found: true})
		if _, _, err := rd.wait(ctxT(t), 1); err != nil {
			t.Fatal(err)
		}
		rd.settle(&newer)
		before := coord.Metrics().ReadRepairs
		rd.deliver(replicaResult{target: c.nodes[1].id, entry: newer, found: true})
		if got := coord.Metrics().ReadRepairs; got != before {
			t.Fatalf("an up-to-date late answer was repaired (%d repairs)", got-before)
		}
	})
}

// TestReadOpSettleDropsLateAfterFailure checks that a read settled without
// a newest entry (a failed quorum or a cancelled caller) repairs nothing.
func TestReadOpSettleDropsLateAfterFailure(t *testing.T) {
	c, _, older := staleCluster(t)
	coord := c.nodes[1]
	rd := coord.newRead("k")
	rd.pending = 1
	rd.settle(nil)
	rd.settle(nil) // idempotent
	before := coord.Metrics().ReadRepairs
	rd.deliver(replicaResult{target: c.nodes[2].id, entry: older, found: true})
	if got := coord.Metrics().ReadRepairs; got != before {
		t.Fatalf("a settled failed read repaired a late answer (%d repairs)", got-before)
	}
}
