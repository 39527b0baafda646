package gridkv

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gridkv/gridkv/gridkv/internal/wire"
	"github.com/gridkv/gridkv/storage"
)

// errRecovering is a replica's answer to a LINEARIZABLE request while it is
// still synchronising after joining.
var errRecovering = errors.New("gridkv: replica recovering after restart")

// linearWrite is the write of ABD (multi-writer): read the highest version
// from a majority, then write a greater version to a majority.
func (n *Node) linearWrite(ctx context.Context, op, key string, e storage.Entry) (storage.Version, error) {
	st := n.view.current()
	var buf [maxReplicas]string
	prefs := n.preference(st, key, buf[:])
	if len(prefs) == 0 {
		return storage.Version{}, ErrNoMembers
	}
	maj := len(prefs)/2 + 1
	answers, err := n.strictRead(ctx, st, op, key, prefs, maj)
	if err != nil {
		return storage.Version{}, err
	}
	if newest := newestOf(answers); newest != nil {
		// The responders' clocks were merged already; this makes the order
		// explicit: the new version must exceed every version read.
		if err := n.clock.Update(versionTime(newest.Version)); err != nil {
			return storage.Version{}, err
		}
		e.Version = makeVersion(n.clock.Now(), n.tiebreak)
		if !newest.Version.Less(e.Version) {
			return storage.Version{}, fmt.Errorf("gridkv: %s: clock did not advance past version read", op)
		}
	} else {
		e.Version = makeVersion(n.clock.Now(), n.tiebreak)
	}
	return e.Version, n.strictWrite(ctx, st, op, key, e, prefs, maj, nil)
}

// linearRead is the read of ABD: collect from a majority, then make sure a
// majority holds the newest version before returning it.
func (n *Node) linearRead(ctx context.Context, st *ringState, key string, prefs []string) ([]byte, error) {
	maj := len(prefs)/2 + 1
	answers, err := n.strictRead(ctx, st, OpGet, key, prefs, maj)
	if err != nil {
		return nil, err
	}
	newest := newestOf(answers)
	if newest == nil {
		return nil, ErrNotFound
	}
	current := make(map[string]bool, len(answers))
	for _, a := range answers {
		if a.found && a.entry.Version == newest.Version {
			current[a.target] = true
		}
	}
	if len(current) < maj {
		if err := n.strictWrite(ctx, st, OpGet, key, *newest, prefs, maj, current); err != nil {
			return nil, err
		}
		n.met.readRepairs.Add(uint64(maj - len(current)))
	}
	if newest.Tombstone || newest.Expired(n.clock.WallNow()) {
		return nil, ErrNotFound
	}
	return newest.Value, nil
}

// strictRead asks the key's healthy replicas (never stand-ins) and returns
// the first need answers.
func (n *Node) strictRead(ctx context.Context, st *ringState, op, key string, prefs []string, need int) ([]replicaResult, error) {
	rd, answers, err := n.gather(ctx, st, op, key, prefs, need, true)
	if err != nil {
		return nil, err
	}
	rd.settle(nil)
	answers = slices.Clone(answers) // they point into rd
	rd.done()
	return answers, nil
}

// strictWrite writes e to the key's replicas (never stand-ins) that are not
// in have, and returns once len(have) plus the acknowledgements reach need.
func (n *Node) strictWrite(ctx context.Context, st *ringState, op, key string, e storage.Entry, prefs []string, need int, have map[string]bool) error {
	payload, err := proto.Marshal(&wire.PutRequest{
		Clock:   encodeClock(n.clock.Last()),
		Entries: []*wire.KeyEntry{{Key: keyBytes(key), Entry: toWire(e)}},
		Strict:  true,
	})
	if err != nil {
		return err
	}
	acked := len(have)
	wo := n.newWrite()
	defer wo.done()
	wo.payload = payload
	pending := 0
	for _, id := range prefs {
		if have[id] {
			continue
		}
		switch {
		case id == n.id:
			pending++
			if n.recovering.Load() {
				wo.add(writeAck{target: id, err: errRecovering})
				continue
			}
			_, err := n.store.Put(keyBytes(key), e)
			wo.add(writeAck{target: id, err: err})
		case st.healthy[id]:
			pending++
			wo.put(st.addrs[id], id)
		}
	}
	var errs []error
	for acked < need {
		if acked+pending < need {
			return &QuorumError{Op: op, Acked: acked, Needed: need, Replicas: len(prefs), Errs: errs}
		}
		r, err := wo.next(ctx)
		if err != nil {
			return err
		}
		pending--
		if r.err != nil {
			errs = append(errs, r.err)
			continue
		}
		acked++
	}
	return nil
}

// recover synchronises a node that joined an existing cluster with every
// peer before it takes part in LINEARIZABLE quorums: a restarted node comes
// back empty, and counting it in a majority could hide acknowledged writes.
//
// One complete anti-entropy pass with every peer suffices: a write that
// completed before this node started is on a majority, so on some peer, and
// the pass copies it; a write that completes later cannot count this node
// (it refuses strict requests while recovering), so its majority is made of
// other nodes and intersects every later majority without this node. A pass
// is complete when no peer's comparison stopped at the per-round key budget.
func (n *Node) recover() {
	backoff := 50 * time.Millisecond
	for n.ctx.Err() == nil {
		if n.syncAll(n.ctx) {
			n.recovering.Store(false)
			n.log.Info("recovered: synchronised with every peer")
			return
		}
		select {
		case <-n.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// syncAll runs anti-entropy with every ring member until one pass finishes
// below the key budget everywhere; false if a member is unhealthy or
// unreachable (the caller retries).
func (n *Node) syncAll(ctx context.Context) bool {
	st := n.view.current()
	if st.ring.Len() < 2 {
		return false // not yet seen the cluster we joined
	}
	for _, m := range st.ring.Members() {
		if m.ID != n.id && !st.healthy[m.ID] {
			return false
		}
	}
	for {
		complete := true
		for _, m := range st.ring.Members() {
			if m.ID == n.id {
				continue
			}
			k, err := n.antiEntropyWith(ctx, st, m.ID)
			if err != nil {
				return false
			}
			if k >= n.opts.AntiEntropyMaxKeys {
				complete = false
			}
		}
		if complete {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
	}
}
