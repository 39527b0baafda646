package gridkv

import (
	"context"
	"fmt"
	"slices"
	"time"
	"unsafe"

	"github.com/gridkv/gridkv/storage"
)

// maxReplicas bounds N so preference lists fit in stack buffers.
const maxReplicas = 16

// keyBytes views a string key as bytes without copying; the callees
// (storage, hashing, protobuf marshalling) never modify or retain it.
func keyBytes(key string) []byte { return unsafe.Slice(unsafe.StringData(key), len(key)) }

func (n *Node) checkKey(key string) error {
	switch {
	case n.closed.Load():
		return ErrClosed
	case len(key) == 0:
		return ErrEmptyKey
	case len(key) > n.opts.MaxKeySize:
		return fmt.Errorf("%w: %d bytes, limit %d", ErrKeyTooLarge, len(key), n.opts.MaxKeySize)
	}
	return nil
}

// Set stores value under key on the key's replicas and returns once the
// write quorum acknowledged it. On error the write may still have been
// applied by some replicas (and will then spread through repair). Set
// keeps no reference to value: the caller may reuse it once Set returns
// (the replicas still being written in the background, and hints, hold
// copies).
func (n *Node) Set(ctx context.Context, key string, value []byte, opts ...CallOption) error {
	// When every key has one replica (N=1, or a ring of one node), writes
	// stay on this node and are timed 1 in 8, as local reads are.
	if st := n.view.current(); (n.opts.ReplicationFactor == 1 || st.ring.Len() == 1) && n.met.localWrites.Add(1)&7 != 0 {
		_, err := n.set(ctx, key, value, opts)
		n.recordCount(opSet, err)
		return err
	}
	start := monoNow()
	_, err := n.set(ctx, key, value, opts)
	n.record(opSet, start, err)
	return err
}

// set writes value and returns the version it was written with (also when
// the write failed: it may have been applied).
func (n *Node) set(ctx context.Context, key string, value []byte, opts []CallOption) (storage.Version, error) {
	if err := n.checkKey(key); err != nil {
		return storage.Version{}, err
	}
	if len(value) > n.opts.MaxValueSize {
		return storage.Version{}, fmt.Errorf("%w: %d bytes, limit %d", ErrValueTooLarge, len(value), n.opts.MaxValueSize)
	}
	o, w, _, err := n.quorums(opts)
	if err != nil {
		return storage.Version{}, err
	}
	var e storage.Entry
	e.Value = value
	if o.ttl > 0 {
		e.Expiry = n.clock.WallNow() + int64(o.ttl)
	}
	if o.consistency == Linearizable {
		return n.linearWrite(ctx, OpSet, key, e)
	}
	e.Version = makeVersion(n.clock.Now(), n.tiebreak)
	return e.Version, n.replicate(ctx, OpSet, key, e, w)
}

// Delete removes key by writing a tombstone to the key's replicas.
func (n *Node) Delete(ctx context.Context, key string, opts ...CallOption) error {
	start := monoNow()
	err := n.del(ctx, key, opts)
	n.record(opDelete, start, err)
	return err
}

func (n *Node) del(ctx context.Context, key string, opts []CallOption) error {
	if err := n.checkKey(key); err != nil {
		return err
	}
	o, w, _, err := n.quorums(opts)
	if err != nil {
		return err
	}
	if o.consistency == Linearizable {
		_, err := n.linearWrite(ctx, OpDelete, key, storage.Entry{Tombstone: true})
		return err
	}
	e := storage.Entry{Version: makeVersion(n.clock.Now(), n.tiebreak), Tombstone: true}
	return n.replicate(ctx, OpDelete, key, e, w)
}

// writeAck is one replica's answer to a write.
type writeAck struct {
	target string
	hint   bool // a stand-in answered for a replica that is down
	err    error
}

// replicaResult is one replica's answer to a read.
type replicaResult struct {
	target string
	entry  storage.Entry
	found  bool
	err    error
}

// preference returns the key's replicas in the current ring.
func (n *Node) preference(st *ringState, key string, buf []string) []string {
	N := min(n.opts.ReplicationFactor, st.ring.Len())
	prefs, err := st.ring.Replicas(key, N, buf[:0])
	if err != nil {
		return nil
	}
	return prefs
}

// standIns returns healthy members after the preference list in ring order,
// who hold hints for replicas that are down (sloppy quorum).
func (n *Node) standIns(st *ringState, key string, prefs []string) []string {
	all, err := st.ring.Replicas(key, st.ring.Len(), nil)
	if err != nil {
		return nil
	}
	out := all[:0]
	for _, id := range all[len(prefs):] {
		if st.healthy[id] {
			out = append(out, id)
		}
	}
	return out
}

// replicate writes e to the key's N replicas and waits for w acks. Replicas
// that are down are replaced by stand-ins that keep the write as a hint.
func (n *Node) replicate(ctx context.Context, op, key string, e storage.Entry, w int) error {
	st := n.view.current()
	var buf [maxReplicas]string
	prefs := n.preference(st, key, buf[:])
	if len(prefs) == 0 {
		return ErrNoMembers
	}
	if len(prefs) == 1 && prefs[0] == n.id && w <= 1 {
		_, err := n.store.Put(keyBytes(key), e)
		if err != nil {
			return &QuorumError{Op: op, Needed: w, Replicas: 1, Errs: []error{err}}
		}
		return nil
	}
	wo := n.newWrite()
	defer wo.done()
	var standIns []string
	nextStandIn := func() (string, bool) {
		if standIns == nil {
			standIns = n.standIns(st, key, prefs)
		}
		if len(standIns) == 0 {
			return "", false
		}
		s := standIns[0]
		standIns = standIns[1:]
		return s, true
	}
	pending := 0
	hinted := func(target string) bool {
		s, ok := nextStandIn()
		if !ok {
			return false
		}
		pending++
		wo.hint(st, s, target, key, e)
		return true
	}
	for _, id := range prefs {
		switch {
		case id == n.id:
			pending++
			_, err := n.store.Put(keyBytes(key), e)
			wo.add(writeAck{target: id, err: err})
		case st.healthy[id]:
			pending++
			// A write that stays on this node (N=1, or a single-node ring)
			// is never encoded: the request is built on first use.
			if wo.payload == nil {
				wo.payload = appendPutRequest(nil, versionTime(e.Version), keyBytes(key), e, "")
			}
			wo.put(st.addrs[id], id)
		default:
			if !hinted(id) {
				n.keepHint(id, key, e)
				pending++
				wo.add(writeAck{target: id, err: fmt.Errorf("%w: replica %s is down and no stand-in is available", errReplicaDown, id)})
			}
		}
	}
	acked, asked := 0, len(prefs)
	var errs []error
	for pending > 0 {
		r, err := wo.next(ctx)
		if err != nil {
			return err
		}
		pending--
		if r.err == nil {
			acked++
			if acked >= w {
				return nil // the rest complete in the background
			}
			continue
		}
		errs = append(errs, r.err)
		if !r.hint && r.target != n.id {
			if hinted(r.target) {
				continue // a stand-in takes the failed replica's place
			}
			n.keepHint(r.target, key, e)
		}
		if acked+pending < w {
			return &QuorumError{Op: op, Acked: acked, Needed: w, Replicas: asked, Errs: errs}
		}
	}
	return &QuorumError{Op: op, Acked: acked, Needed: w, Replicas: asked, Errs: errs}
}

// keepHint makes the coordinator itself hold a write for a replica that
// did not take it and has no stand-in. Such a hint does not count towards
// the write quorum (the coordinator may already be a replica), but it is
// handed over when the replica is reachable again.
func (n *Node) keepHint(target, key string, e storage.Entry) {
	if n.hints.add(target, []byte(key), e) {
		n.met.hintsStored.Add(1)
	} else {
		n.met.hintsDropped.Add(1)
	}
}

// callCtx bounds one replica request: it ends with the node, not with the
// caller, so that replicas past the quorum still receive the write, and
// between RequestTimeout and RequestTimeout*(1+1/callCtxShare) after the
// call.
//
// Requests that start within the same RequestTimeout/callCtxShare share
// one context. A context with a timer of its own per request cost ten
// allocations and two runtime timers per quorum write (BenchmarkQuorum
// net, 4 interleaved pairs on 2 cores, medians: set 23.0 -> 21.8 us/op,
// p99 3.60 -> 3.40 ms; get 22.7 -> 21.0 us/op, p99 3.38 -> 2.97 ms).
func (n *Node) callCtx() context.Context {
	now := monoNow()
	if b := n.callBucket.Load(); b != nil && now < b.until {
		return b.ctx
	}
	n.callBucketMu.Lock()
	defer n.callBucketMu.Unlock()
	if b := n.callBucket.Load(); b != nil && now < b.until {
		return b.ctx
	}
	grain := n.opts.RequestTimeout / callCtxShare
	// It ends RequestTimeout after the last request that can pick it up;
	// the bucket it replaces stays valid for the requests that hold it,
	// until its own timer ends it.
	ctx, cancel := context.WithTimeout(n.ctx, n.opts.RequestTimeout+grain)
	n.callBucket.Store(&callBucket{ctx: ctx, cancel: cancel, until: now + grain})
	return ctx
}

// callCtxShare: requests share a call context for RequestTimeout/callCtxShare.
const callCtxShare = 16

// callBucket is a call context shared by the requests that start before
// until (monoNow).
type callBucket struct {
	ctx context.Context
	// cancel is never needed before the timer: Close cancels the node's
	// context, which ends every bucket.
	cancel context.CancelFunc
	until  time.Duration
}

// startCall takes an in-flight slot and a share of the node's WaitGroup for
// a replica request about to run on a goroutine of its own, which must
// call endCall.
func (n *Node) startCall() error {
	if err := n.acquire(); err != nil {
		return err
	}
	if !n.own() {
		n.release()
		return ErrClosed
	}
	return nil
}

func (n *Node) endCall() {
	n.release()
	n.wg.Done()
}

// Prefetch hints that keys are about to be read or written through this
// node: the entries this node holds for them are brought into the CPU's
// caches together, so that the operations that follow do not each wait for
// memory in turn. Call it with a batch of keys in hand (a server that has
// read a pipeline of commands does); for a single key it only adds work.
// It does no I/O, changes nothing, keeps no reference to keys, and is a
// no-op for keys this node holds no replica of and for storage backends
// without prefetching.
func (n *Node) Prefetch(keys ...string) {
	// Only the sharded backend prefetches. A concrete call also keeps the
	// key buffer below on the stack (through an interface it would escape).
	p, ok := n.store.(*storage.Sharded)
	if !ok || n.closed.Load() {
		return
	}
	var buf [32][]byte
	for len(keys) > 0 {
		k := min(len(keys), len(buf))
		for i, key := range keys[:k] {
			buf[i] = keyBytes(key)
		}
		p.Prefetch(buf[:k])
		keys = keys[k:]
	}
}

// Get returns the newest value of key among the replicas that answer. It
// returns ErrNotFound when the key has no live value.
func (n *Node) Get(ctx context.Context, key string, opts ...CallOption) ([]byte, error) {
	if err := n.checkKey(key); err != nil {
		n.recordCount(opGet, err)
		return nil, err
	}
	o, _, r, err := n.quorums(opts)
	if err != nil {
		n.recordCount(opGet, err)
		return nil, err
	}
	st := n.view.current()
	var buf [maxReplicas]string
	prefs := n.preference(st, key, buf[:])
	if len(prefs) == 0 {
		n.recordCount(opGet, ErrNoMembers)
		return nil, ErrNoMembers
	}
	// R=1 and this node is a replica: answer locally, no network. Its
	// latency is sampled (1 in 8): two clock reads would cost as much as the
	// read itself.
	if r == 1 && o.consistency != Linearizable && st.prev == nil && slices.Contains(prefs, n.id) {
		sample := n.met.localReads.Add(1)&7 == 0
		var start time.Duration
		if sample {
			start = monoNow()
		}
		v, err := n.store.Get(keyBytes(key), nil)
		if err == storage.ErrNotFound {
			err = ErrNotFound
		}
		if sample {
			n.met.ops[opGet].latency.observe(monoNow() - start)
		}
		n.recordCount(opGet, err)
		return v, err
	}
	start := monoNow()
	var v []byte
	if o.consistency == Linearizable {
		v, err = n.linearRead(ctx, st, key, prefs)
	} else {
		v, err = n.quorumRead(ctx, st, key, prefs, r, o)
	}
	n.record(opGet, start, err)
	return v, err
}

func (n *Node) quorumRead(ctx context.Context, st *ringState, key string, prefs []string, r int, o callOptions) ([]byte, error) {
	op, answers, err := n.gather(ctx, st, OpGet, key, prefs, r, false)
	if err != nil {
		return nil, err
	}
	newest := newestOf(answers)
	if newest == nil && st.prev != nil {
		// Ranges are moving: the key may still be only on its old owners.
		newest = n.readPrevious(ctx, st, key, prefs)
	}
	// Replicas that answer after the quorum are repaired in the background,
	// by the goroutines that fetched their answers.
	op.settle(newest)
	defer op.done() // newest and answers point into op
	if newest != nil {
		blocking := o.consistency != One
		n.repair(key, *newest, answers, blocking, ctx)
	}
	if newest == nil || newest.Tombstone || newest.Expired(n.clock.WallNow()) {
		return nil, ErrNotFound
	}
	return newest.Value, nil
}

// gather reads key from need healthy replicas in prefs and returns their
// successful answers with the read. It asks need replicas first (this node
// first when it is one), another one for each that fails, and the rest
// once Options.ReadHedge passes without need answers. The caller must
// settle the read, then call done once it no longer uses the answers.
// gather fails fast, without waiting, when fewer than need replicas are up;
// on an error it has released the read already.
func (n *Node) gather(ctx context.Context, st *ringState, op, key string, prefs []string, need int, strict bool) (*readOp, []replicaResult, error) {
	var buf [maxReplicas]string
	cands := buf[:0]
	if slices.Contains(prefs, n.id) {
		cands = append(cands, n.id)
	}
	for _, id := range prefs {
		if id != n.id && st.healthy[id] {
			cands = append(cands, id)
		}
	}
	if len(cands) < need {
		return nil, nil, &QuorumError{Op: op, Needed: need, Replicas: len(prefs),
			Errs: []error{fmt.Errorf("%w: only %d of %d replicas are up", errReplicaDown, len(cands), len(prefs))}}
	}
	rd := n.newRead(key)
	rd.payload = appendGetRequest(nil, n.clock.Last(), keyBytes(key), strict)
	first := need
	if n.opts.ReadHedge == 0 {
		first = len(cands)
	}
	for _, id := range cands[:first] {
		rd.ask(st, id, strict)
	}
	answers, errs, err := rd.gather(ctx, st, cands, first, need, n.opts.ReadHedge, strict)
	if err == nil && len(answers) < need {
		err = &QuorumError{Op: op, Acked: len(answers), Needed: need, Replicas: len(prefs), Errs: errs}
	}
	if err != nil {
		rd.settle(nil)
		rd.done()
		return nil, nil, err
	}
	return rd, answers, nil
}

// newestOf returns the entry with the highest version among the answers.
func newestOf(answers []replicaResult) *storage.Entry {
	var newest *storage.Entry
	for i := range answers {
		a := &answers[i]
		if a.found && (newest == nil || newest.Version.Less(a.entry.Version)) {
			newest = &a.entry
		}
	}
	return newest
}

func (n *Node) readPrevious(ctx context.Context, st *ringState, key string, prefs []string) *storage.Entry {
	N := min(n.opts.ReplicationFactor, st.prev.Len())
	old, err := st.prev.Replicas(key, N, nil)
	if err != nil {
		return nil
	}
	rd := n.newRead(key)
	rd.payload = appendGetRequest(nil, n.clock.Last(), keyBytes(key), false)
	asked := 0
	for _, id := range old {
		// Skip replicas already asked and old owners that are down or gone.
		if slices.Contains(prefs, id) || (id != n.id && !st.healthy[id]) {
			continue
		}
		asked++
		rd.ask(st, id, false)
	}
	// Every answer is wanted: wait until all are in (or ctx ends).
	answers, _, _ := rd.wait(ctx, asked)
	rd.settle(nil)
	defer rd.done()
	if e := newestOf(answers); e != nil {
		c := *e // answers point into rd
		return &c
	}
	return nil
}

func (n *Node) remoteGet(ctx context.Context, id, addr string, payload []byte) replicaResult {
	raw, err := n.tr.Call(ctx, addr, msgGet, payload)
	if err != nil {
		return replicaResult{target: id, err: err}
	}
	// Decoded in place (wirefast.go): the entry's value aliases raw, which
	// the transport hands over to this call.
	var we putEntry
	clock, found, err := parseGetResponse(raw, &we)
	if err != nil {
		return replicaResult{target: id, err: fmt.Errorf("%w: %v", errBadMessage, err)}
	}
	if err := n.observe(clock); err != nil {
		return replicaResult{target: id, err: err}
	}
	if !found {
		return replicaResult{target: id}
	}
	e, err := we.entry()
	return replicaResult{target: id, entry: e, found: err == nil, err: err}
}

// repair writes newest to every answer that is older. When blocking, it
// waits (within ctx) for the repairs to be acknowledged.
func (n *Node) repair(key string, newest storage.Entry, answers []replicaResult, blocking bool, ctx context.Context) {
	var stale []string
	for _, a := range answers {
		if !a.found || a.entry.Version.Less(newest.Version) {
			stale = append(stale, a.target)
		}
	}
	if len(stale) == 0 {
		return
	}
	st := n.view.current()
	wo := n.newWrite()
	defer wo.done()
	wo.payload = appendPutRequest(nil, n.clock.Last(), keyBytes(key), newest, "")
	for _, id := range stale {
		n.met.readRepairs.Add(1)
		if id == n.id {
			_, err := n.store.Put([]byte(key), newest)
			wo.add(writeAck{target: id, err: err})
			continue
		}
		wo.put(st.addrs[id], id)
	}
	if !blocking {
		return
	}
	for range stale {
		if _, err := wo.next(ctx); err != nil {
			return
		}
	}
}
