package gridkv

import (
	"context"
	"sort"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gridkv/gridkv/gridkv/internal/wire"
	"github.com/gridkv/gridkv/hlc"
	"github.com/gridkv/gridkv/storage"
)

// hint is a write held for a replica that was down (hinted handoff).
type hint struct {
	key   []byte
	entry storage.Entry
	added int64 // wall clock, ns
}

// hintStore holds hints per target node, bounded in count and age.
type hintStore struct {
	mu       sync.Mutex
	byTarget map[string][]hint
	total    int
	max      int
	window   time.Duration
	wall     hlc.WallClock
}

func newHintStore(max int, window time.Duration, wall hlc.WallClock) *hintStore {
	return &hintStore{byTarget: make(map[string][]hint), max: max, window: window, wall: wall}
}

// add keeps a copy of the write for target; false when the store is full.
func (h *hintStore) add(target string, key []byte, e storage.Entry) bool {
	e.Value = append([]byte(nil), e.Value...)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.total >= h.max {
		return false
	}
	h.byTarget[target] = append(h.byTarget[target], hint{key: append([]byte(nil), key...), entry: e, added: h.wall()})
	h.total++
	return true
}

// take removes and returns up to max hints for target.
func (h *hintStore) take(target string, max int) []hint {
	h.mu.Lock()
	defer h.mu.Unlock()
	l := h.byTarget[target]
	k := min(max, len(l))
	out := l[:k:k]
	if k == len(l) {
		delete(h.byTarget, target)
	} else {
		h.byTarget[target] = append([]hint(nil), l[k:]...)
	}
	h.total -= k
	return out
}

// putBack returns hints whose delivery failed.
func (h *hintStore) putBack(target string, hs []hint) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.byTarget[target] = append(hs, h.byTarget[target]...)
	h.total += len(hs)
}

// expire drops hints older than the window and returns how many.
func (h *hintStore) expire() int {
	cutoff := h.wall() - int64(h.window)
	h.mu.Lock()
	defer h.mu.Unlock()
	dropped := 0
	for t, l := range h.byTarget {
		keep := l[:0]
		for _, x := range l {
			if x.added >= cutoff {
				keep = append(keep, x)
			}
		}
		dropped += len(l) - len(keep)
		if len(keep) == 0 {
			delete(h.byTarget, t)
		} else {
			h.byTarget[t] = keep
		}
	}
	h.total -= dropped
	return dropped
}

func (h *hintStore) targets() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.byTarget))
	for t := range h.byTarget {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

func (h *hintStore) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.total
}

// hintLoop periodically hands hints to replicas that are back, and expires
// failed members and old hints.
func (n *Node) hintLoop() {
	t := time.NewTicker(n.opts.HintInterval)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
			n.view.expire(n.opts.HintWindow)
			if d := n.hints.expire(); d > 0 {
				n.met.hintsDropped.Add(uint64(d))
			}
			n.deliverHints(n.ctx)
		}
	}
}

// deliverHints offers held hints to their replicas once they are healthy.
// Hints for a node that is no longer in the ring go to the key's current
// replicas instead, so the write is not lost with the node.
func (n *Node) deliverHints(ctx context.Context) {
	for _, target := range n.hints.targets() {
		st := n.view.current()
		_, inRing := st.ring.Member(target)
		switch {
		case !inRing:
			for _, h := range n.hints.take(target, maxBatch) {
				cctx, cancel := context.WithTimeout(ctx, n.opts.RequestTimeout)
				err := n.replicate(cctx, OpSet, string(h.key), h.entry, 1)
				cancel()
				if err != nil {
					n.hints.putBack(target, []hint{h})
					break
				}
				n.met.hintsDelivered.Add(1)
			}
		case st.healthy[target]:
			for {
				batch := n.hints.take(target, 256)
				if len(batch) == 0 {
					break
				}
				if err := n.sendHints(ctx, st.addrs[target], batch); err != nil {
					n.hints.putBack(target, batch)
					break
				}
				n.met.hintsDelivered.Add(uint64(len(batch)))
			}
		}
	}
}

func (n *Node) sendHints(ctx context.Context, addr string, batch []hint) error {
	req := &wire.PutRequest{Clock: encodeClock(n.clock.Last())}
	for _, h := range batch {
		req.Entries = append(req.Entries, &wire.KeyEntry{Key: h.key, Entry: toWire(h.entry)})
	}
	payload, err := proto.Marshal(req)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, n.opts.RequestTimeout)
	defer cancel()
	_, err = n.tr.Call(cctx, addr, msgPut, payload)
	return err
}
