package gridkv

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gridkv/gridkv/gridkv/internal/wire"
	"github.com/gridkv/gridkv/ring"
	"github.com/gridkv/gridkv/storage"
	"github.com/gridkv/gridkv/transport"
)

const (
	// maxDigestRanges bounds the ranges of one DigestRequest.
	maxDigestRanges = 1 << 16
	// maxKeysPerRequest bounds the keys listed by one KeysRequest.
	maxKeysPerRequest = 1 << 14
)

// rangeDigests digests each of the sorted, non-overlapping ranges (End 0
// meaning 2^64). Buckets of storage's digest table that lie wholly inside a
// range contribute their maintained digest; entries of buckets cut by a
// range boundary are summed in one scan of the store. Two stores holding the
// same (key, version) pairs in a range give it the same digest, whatever
// they hold outside it.
func rangeDigests(store storage.Engine, ranges []ring.Range) ([]uint64, error) {
	if err := checkRanges(ranges); err != nil {
		return nil, err
	}
	buckets, err := store.Digests(nil)
	if err != nil {
		return nil, err
	}
	sums := make([]uint64, len(ranges))
	partial := make([]bool, len(buckets))
	anyPartial := false
	for i, r := range ranges {
		for b := store.BucketOf(r.Start); b < len(buckets); b++ {
			bs, be := store.BucketRange(b) // be 0 means 2^64
			lo, hi := max(bs, r.Start), be
			if r.End != 0 && (be == 0 || r.End < be) {
				hi = r.End
			}
			if lo == bs && hi == be {
				sums[i] += buckets[b]
			} else {
				partial[b], anyPartial = true, true
			}
			if hi == r.End {
				break
			}
		}
	}
	if !anyPartial {
		return sums, nil
	}
	err = store.Range(0, 0, func(key []byte, e storage.Entry) bool {
		h := store.Hash(key)
		if !partial[store.BucketOf(h)] {
			return true
		}
		if i := rangeIndex(ranges, h); i >= 0 {
			sums[i] += storage.EntryDigest(h, e.Version)
		}
		return true
	})
	return sums, err
}

// checkRanges verifies that ranges are sorted, non-empty and disjoint.
func checkRanges(ranges []ring.Range) error {
	for i, r := range ranges {
		if r.End != 0 && r.End <= r.Start {
			return fmt.Errorf("%w: empty or wrapping range %v", errBadMessage, r)
		}
		if i > 0 && (ranges[i-1].End == 0 || ranges[i-1].End > r.Start) {
			return fmt.Errorf("%w: ranges unsorted or overlapping at %d", errBadMessage, i)
		}
	}
	return nil
}

// rangeIndex returns the index of the range containing h, or -1.
func rangeIndex(ranges []ring.Range, h uint64) int {
	i, _ := slices.BinarySearchFunc(ranges, h, func(r ring.Range, h uint64) int {
		if r.Start > h {
			return 1
		}
		return -1
	})
	if i > 0 && ranges[i-1].Contains(h) {
		return i - 1
	}
	return -1
}

// antiEntropyLoop compares ranges with one peer per interval, round robin.
func (n *Node) antiEntropyLoop() {
	t := time.NewTicker(n.opts.AntiEntropyInterval)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
			if _, err := n.AntiEntropy(n.ctx); err != nil && n.ctx.Err() == nil {
				n.log.Debug("anti-entropy round failed: " + err.Error())
			}
		}
	}
}

// AntiEntropy runs one anti-entropy round now: it compares the ranges this
// node shares with the next peer (round robin) and exchanges the entries
// that differ, in both directions. It returns how many entries it repaired.
// Nodes run rounds on their own every Options.AntiEntropyInterval; call it
// to converge sooner (after healing a partition, in tests).
func (n *Node) AntiEntropy(ctx context.Context) (int, error) {
	st := n.view.current()
	var peers []string
	for _, m := range st.ring.Members() {
		if m.ID != n.id && st.healthy[m.ID] {
			peers = append(peers, m.ID)
		}
	}
	if len(peers) == 0 {
		return 0, nil
	}
	repaired := 0
	for range peers {
		peer := peers[n.aeNext.Add(1)%uint64(len(peers))]
		k, err := n.antiEntropyWith(ctx, st, peer)
		repaired += k
		if err != nil {
			return repaired, err
		}
		if k > 0 || len(peers) == 1 {
			break
		}
	}
	n.met.antiEntropyRounds.Add(1)
	return repaired, nil
}

// AntiEntropyAll compares this node's ranges with every peer once.
func (n *Node) AntiEntropyAll(ctx context.Context) (int, error) {
	st := n.view.current()
	total := 0
	for _, m := range st.ring.Members() {
		if m.ID == n.id || !st.healthy[m.ID] {
			continue
		}
		k, err := n.antiEntropyWith(ctx, st, m.ID)
		total += k
		if err != nil {
			return total, err
		}
	}
	n.met.antiEntropyRounds.Add(1)
	return total, nil
}

func (n *Node) antiEntropyWith(ctx context.Context, st *ringState, peer string) (int, error) {
	N := min(n.opts.ReplicationFactor, st.ring.Len())
	mine, err := st.ring.OwnedRanges(n.id, N)
	if err != nil {
		return 0, err
	}
	theirs, err := st.ring.OwnedRanges(peer, N)
	if err != nil {
		return 0, err
	}
	shared := intersectRanges(mine, theirs)
	if len(shared) == 0 {
		return 0, nil
	}
	addr := st.addrs[peer]
	queue, err := n.differingRanges(ctx, addr, shared)
	if err != nil {
		return 0, err
	}
	// Merkle-style descent: a differing range too large to list in one
	// request is split and its parts compared, until the differing parts
	// are small enough to exchange key lists.
	repaired := 0
	for len(queue) > 0 && repaired < n.opts.AntiEntropyMaxKeys {
		r := queue[0]
		queue = queue[1:]
		k, truncated, err := n.repairRange(ctx, addr, r, n.opts.AntiEntropyMaxKeys-repaired)
		repaired += k
		if err != nil {
			n.met.antiEntropyKeysRepaired.Add(uint64(repaired))
			return repaired, err
		}
		if truncated {
			parts, err := n.differingRanges(ctx, addr, splitRange(r, 16))
			if err != nil {
				n.met.antiEntropyKeysRepaired.Add(uint64(repaired))
				return repaired, err
			}
			queue = append(parts, queue...)
		}
	}
	n.met.antiEntropyKeysRepaired.Add(uint64(repaired))
	return repaired, nil
}

// differingRanges returns the ranges whose digests differ between this node
// and the peer at addr.
func (n *Node) differingRanges(ctx context.Context, addr string, ranges []ring.Range) ([]ring.Range, error) {
	var differ []ring.Range
	for chunk := range slices.Chunk(ranges, maxDigestRanges) {
		req := &wire.DigestRequest{Clock: encodeClock(n.clock.Last())}
		for _, r := range chunk {
			req.Ranges = append(req.Ranges, &wire.Range{Start: r.Start, End: r.End})
		}
		var resp wire.DigestResponse
		if err := n.call(ctx, addr, msgDigest, req, &resp); err != nil {
			return nil, err
		}
		if len(resp.Digests) != len(chunk) {
			return nil, fmt.Errorf("%w: %d digests for %d ranges", errBadMessage, len(resp.Digests), len(chunk))
		}
		local, err := rangeDigests(n.store, chunk)
		if err != nil {
			return nil, err
		}
		for i, r := range chunk {
			if local[i] != resp.Digests[i] {
				differ = append(differ, r)
			}
		}
	}
	return differ, nil
}

// splitRange cuts r (End 0 meaning 2^64) into up to parts equal ranges.
// A range too narrow to split is returned whole.
func splitRange(r ring.Range, parts uint64) []ring.Range {
	span := r.End - r.Start // wraps to the right width when End is 0
	var step uint64
	if span == 0 { // the whole ring
		step = (1 << 63) / parts * 2
	} else {
		step = span / parts
	}
	if step == 0 {
		return []ring.Range{r}
	}
	out := make([]ring.Range, 0, parts)
	start := r.Start
	for i := uint64(0); i < parts-1; i++ {
		out = append(out, ring.Range{Start: start, End: start + step})
		start += step
	}
	return append(out, ring.Range{Start: start, End: r.End})
}

// repairRange lists the peer's keys in r, then fetches what the peer has
// newer and pushes what this node has newer. When the peer's listing is
// truncated it repairs nothing and reports truncated, so that the caller
// compares the range's parts instead.
func (n *Node) repairRange(ctx context.Context, addr string, r ring.Range, budget int) (int, bool, error) {
	var resp wire.KeysResponse
	req := &wire.KeysRequest{Clock: encodeClock(n.clock.Last()), Range: &wire.Range{Start: r.Start, End: r.End}, Limit: maxKeysPerRequest}
	if err := n.call(ctx, addr, msgKeys, req, &resp); err != nil {
		return 0, false, err
	}
	if resp.Truncated && len(splitRange(r, 16)) > 1 {
		return 0, true, nil
	}
	theirs := make(map[string]storage.Version, len(resp.Keys))
	for _, kv := range resp.Keys {
		v, err := fromWireVersion(kv.Version)
		if err != nil {
			return 0, false, err
		}
		theirs[string(kv.Key)] = v
	}
	var push []*wire.KeyEntry
	seen := make(map[string]bool, len(theirs))
	err := n.store.Range(r.Start, r.End, func(key []byte, e storage.Entry) bool {
		k := string(key)
		seen[k] = true
		tv, ok := theirs[k]
		if (!ok && !resp.Truncated) || (ok && tv.Less(e.Version)) {
			push = append(push, &wire.KeyEntry{Key: []byte(k), Entry: toWire(storage.Entry{
				Value: bytes.Clone(e.Value), Version: e.Version, Expiry: e.Expiry, Tombstone: e.Tombstone})})
		}
		return len(push) < budget
	})
	if err != nil {
		return 0, false, err
	}
	var fetch [][]byte
	for k, tv := range theirs {
		if len(fetch)+len(push) >= budget {
			break
		}
		if !seen[k] {
			fetch = append(fetch, []byte(k))
			continue
		}
		if e, err := n.store.GetEntry([]byte(k), nil); err == nil && e.Version.Less(tv) {
			fetch = append(fetch, []byte(k))
		}
	}
	repaired := 0
	for chunk := range slices.Chunk(push, maxBatch) {
		var pr wire.PutResponse
		if err := n.call(ctx, addr, msgPut, &wire.PutRequest{Clock: encodeClock(n.clock.Last()), Entries: chunk}, &pr); err != nil {
			return repaired, false, err
		}
		repaired += len(chunk)
	}
	for chunk := range slices.Chunk(fetch, maxBatch) {
		var fr wire.FetchResponse
		if err := n.call(ctx, addr, msgFetch, &wire.FetchRequest{Clock: encodeClock(n.clock.Last()), Keys: chunk}, &fr); err != nil {
			return repaired, false, err
		}
		for _, ke := range fr.Entries {
			e, err := fromWire(ke.Entry)
			if err != nil {
				return repaired, false, err
			}
			if _, err := n.store.Put(ke.Key, e); err != nil {
				return repaired, false, err
			}
			repaired++
		}
	}
	return repaired, false, nil
}

// call sends a request message and decodes the response, merging the
// responder's clock.
func (n *Node) call(ctx context.Context, addr string, t transport.MsgType, req, resp proto.Message) error {
	payload, err := proto.Marshal(req)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, n.opts.RequestTimeout)
	defer cancel()
	raw, err := n.tr.Call(cctx, addr, t, payload)
	if err != nil {
		return err
	}
	if err := proto.Unmarshal(raw, resp); err != nil {
		return fmt.Errorf("%w: %v", errBadMessage, err)
	}
	if c, ok := resp.(interface{ GetClock() []byte }); ok {
		return n.observe(c.GetClock())
	}
	return nil
}

// intersectRanges intersects two sorted lists of non-overlapping ranges
// (End 0 meaning 2^64).
func intersectRanges(a, b []ring.Range) []ring.Range {
	end := func(r ring.Range) uint64 { // inclusive end, to handle 2^64
		return r.End - 1
	}
	var out []ring.Range
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		lo := max(a[i].Start, b[j].Start)
		hi := min(end(a[i]), end(b[j]))
		if lo <= hi {
			out = append(out, ring.Range{Start: lo, End: hi + 1})
		}
		if end(a[i]) < end(b[j]) {
			i++
		} else {
			j++
		}
	}
	return out
}
