package gridkv

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gridkv/gridkv/gridkv/internal/wire"
	"github.com/gridkv/gridkv/ring"
	"github.com/gridkv/gridkv/storage"
)

// transfer moves one range to one new owner.
type transfer struct {
	rng      ring.Range
	target   string
	attempts int
	notUntil time.Time
}

// rebalancer streams the ranges whose ownership changed to their new
// owners. A range goes from its first old owner that is still healthy, so
// one copy travels, not N. Moves that fail are retried with backoff; moves
// whose target left the ring are dropped. Entries travel as ordinary
// last-write-wins puts, so a repeated or interrupted move is harmless.
type rebalancer struct {
	n    *Node
	wake chan struct{}

	mu    sync.Mutex
	queue []transfer
	ring  *ring.Ring // the ring the queue was computed for
}

func newRebalancer(n *Node) *rebalancer {
	return &rebalancer{n: n, wake: make(chan struct{}, 1)}
}

// ringChanged queues the moves this node is responsible for. It is called
// with the view locked, so it only computes and queues.
func (rb *rebalancer) ringChanged(old, cur *ring.Ring) {
	n := rb.n
	N := n.opts.ReplicationFactor
	changes, err := ring.Diff(old, cur, N)
	if err != nil {
		n.log.Error("ring diff: " + err.Error())
		return
	}
	st := n.view.cur.Load()
	var add []transfer
	for _, c := range changes {
		if sender(c.Old, cur, st) != n.id {
			continue
		}
		for _, t := range c.New {
			if t != n.id && !slices.Contains(c.Old, t) {
				add = append(add, transfer{rng: c.Range, target: t})
			}
		}
	}
	rb.mu.Lock()
	rb.ring = cur
	rb.queue = append(rb.queue, add...)
	pending := len(rb.queue)
	rb.mu.Unlock()
	n.met.rebalanceRangesPending.Store(int64(pending))
	signal(rb.wake)
}

// sender picks the old owner that streams a range: the first old owner that
// is healthy and still in the ring; failing that, the first old owner.
func sender(old []string, cur *ring.Ring, st *ringState) string {
	for _, id := range old {
		if _, ok := cur.Member(id); ok && st.healthy[id] {
			return id
		}
	}
	if len(old) > 0 {
		return old[0]
	}
	return ""
}

func (rb *rebalancer) run() {
	n := rb.n
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-rb.wake:
		case <-t.C:
		}
		rb.step(n.ctx)
	}
}

// step runs every due transfer once.
func (rb *rebalancer) step(ctx context.Context) {
	n := rb.n
	rb.mu.Lock()
	work := rb.queue
	rb.queue = nil
	r := rb.ring
	rb.mu.Unlock()
	var retry []transfer
	now := time.Now()
	for i, tr := range work {
		if ctx.Err() != nil {
			retry = append(retry, work[i:]...)
			break
		}
		st := n.view.current()
		if _, ok := st.ring.Member(tr.target); !ok {
			continue // the target left; the next diff covers its ranges
		}
		if now.Before(tr.notUntil) || !st.healthy[tr.target] {
			retry = append(retry, tr)
			continue
		}
		if err := rb.move(ctx, st.addrs[tr.target], tr.rng); err != nil {
			tr.attempts++
			tr.notUntil = now.Add(min(time.Duration(tr.attempts)*time.Second, 30*time.Second))
			retry = append(retry, tr)
			continue
		}
		n.met.rebalanceRangesDone.Add(1)
	}
	rb.mu.Lock()
	rb.queue = append(retry, rb.queue...)
	pending := len(rb.queue)
	rb.mu.Unlock()
	n.met.rebalanceRangesPending.Store(int64(pending))
	if pending == 0 && r != nil {
		n.view.clearPrev(r)
	}
}

// move streams every entry of rng to addr in batches, within the
// bandwidth budget.
func (rb *rebalancer) move(ctx context.Context, addr string, rng ring.Range) error {
	n := rb.n
	const batchBytes = 256 << 10
	var batch []*wire.KeyEntry
	size := 0
	var sendErr error
	flush := func() bool {
		if len(batch) == 0 {
			return true
		}
		req := &wire.PutRequest{Clock: encodeClock(n.clock.Last()), Entries: batch}
		var resp wire.PutResponse
		if err := n.call(ctx, addr, msgPut, req, &resp); err != nil {
			sendErr = err
			return false
		}
		n.met.rebalanceKeysSent.Add(uint64(len(batch)))
		// Pace to RebalanceBytesPerSec.
		pause := time.Duration(float64(size) / float64(n.opts.RebalanceBytesPerSec) * float64(time.Second))
		batch, size = nil, 0
		if pause > time.Millisecond {
			t := time.NewTimer(pause)
			defer t.Stop()
			select {
			case <-ctx.Done():
				sendErr = ctx.Err()
				return false
			case <-t.C:
			}
		}
		return true
	}
	err := n.store.Range(rng.Start, rng.End, func(key []byte, e storage.Entry) bool {
		batch = append(batch, &wire.KeyEntry{Key: bytes.Clone(key), Entry: toWire(storage.Entry{
			Value: bytes.Clone(e.Value), Version: e.Version, Expiry: e.Expiry, Tombstone: e.Tombstone})})
		size += len(key) + len(e.Value) + 32
		if size >= batchBytes || len(batch) >= maxBatch {
			return flush()
		}
		return true
	})
	if err != nil {
		return err
	}
	if sendErr != nil {
		return sendErr
	}
	if !flush() {
		return sendErr
	}
	return nil
}

var _ = proto.Marshal
