package gridkv

import (
	"context"
	"sync"
	"time"

	"github.com/gridkv/gridkv/storage"
)

// readOp collects the answers of one read from a key's replicas.
//
// The coordinator waits only for the answers it needs. A replica that
// answers later is dealt with by the goroutine that fetched its answer:
// once the coordinator has settled the read with the newest version it
// found, a late answer that is older is repaired in the background, and
// one that arrives before that is kept for settle to repair. No goroutine
// waits for the stragglers, and none is started per read to collect them.
//
// A read goes through three phases: collecting (wait has not returned),
// decided (wait returned; its answers are frozen, late answers are kept in
// late) and settled (late answers are repaired as they arrive).
//
// readOps are recycled: one goes back to readPool when the coordinator has
// released it (done) and every replica asked has answered, whichever comes
// last. Neither may touch it after that.
type readOp struct {
	n       *Node
	key     string
	payload []byte        // the request, shared by the replicas asked
	wake    chan struct{} // capacity 1: an answer arrived
	timer   *time.Timer   // the hedge timer, kept across reuses

	mu      sync.Mutex
	phase   int
	pending int             // asked and not answered yet
	held    bool            // the coordinator has not called done yet
	answers []replicaResult // successful answers while collecting
	errs    []error         // failed answers while collecting
	late    []replicaResult // successful answers while decided
	newest  storage.Entry   // when settled with found: late answers older than it are repaired
	found   bool
	buf     [readInline]replicaResult
}

// readInline is how many answers a read holds without allocating more: the
// default replication factor.
const readInline = 3

const (
	readCollecting = iota
	readDecided
	readSettled
)

var readPool = sync.Pool{New: func() any { return &readOp{wake: make(chan struct{}, 1)} }}

func (n *Node) newRead(key string) *readOp {
	rd := readPool.Get().(*readOp)
	rd.n, rd.key, rd.held = n, key, true
	rd.answers = rd.buf[:0]
	return rd
}

// recycle clears rd and returns it to the pool; see readOp.
func (rd *readOp) recycle() {
	select {
	case <-rd.wake:
	default:
	}
	// Field by field: the mutex is not overwritten (the last deliverer has
	// just unlocked it). errs is not reused: a QuorumError may hold it.
	rd.n, rd.key, rd.payload = nil, "", nil
	rd.phase, rd.pending, rd.held = readCollecting, 0, false
	rd.answers, rd.errs, rd.late = nil, nil, nil
	rd.newest, rd.found = storage.Entry{}, false
	clear(rd.buf[:])
	readPool.Put(rd)
}

// freeLocked reports whether rd can be recycled; rd.mu is held.
func (rd *readOp) freeLocked() bool {
	return !rd.held && rd.pending == 0 && rd.phase == readSettled
}

// ask sends the read (rd.payload) to replica id: this node answers at once,
// another one on a goroutine that holds an in-flight slot.
func (rd *readOp) ask(st *ringState, id string, strict bool) {
	n := rd.n
	rd.mu.Lock()
	rd.pending++
	rd.mu.Unlock()
	if id == n.id {
		if strict && n.recovering.Load() {
			rd.deliver(replicaResult{target: id, err: errRecovering})
			return
		}
		e, err := n.store.GetEntry(keyBytes(rd.key), nil)
		if err == storage.ErrNotFound {
			rd.deliver(replicaResult{target: id})
			return
		}
		rd.deliver(replicaResult{target: id, entry: e, found: err == nil, err: err})
		return
	}
	if err := n.startCall(); err != nil {
		rd.deliver(replicaResult{target: id, err: err})
		return
	}
	// Few arguments: the goroutine's closure is allocated per request.
	go rd.fetch(st, id)
}

func (rd *readOp) fetch(st *ringState, id string) {
	n := rd.n // rd may be recycled once deliver returns
	defer n.endCall()
	rd.deliver(n.remoteGet(n.callCtx(), id, st.addrs[id], rd.payload))
}

// deliver records one replica's answer.
func (rd *readOp) deliver(res replicaResult) {
	rd.mu.Lock()
	rd.pending--
	switch rd.phase {
	case readCollecting:
		if res.err != nil {
			rd.errs = append(rd.errs, res.err)
		} else {
			rd.answers = append(rd.answers, res)
		}
		select {
		case rd.wake <- struct{}{}:
		default: // a wake-up is pending already
		}
		rd.mu.Unlock()
		return
	case readDecided:
		if res.err == nil {
			rd.late = append(rd.late, res)
		}
		rd.mu.Unlock()
		return
	}
	n, key, newest, found := rd.n, rd.key, rd.newest, rd.found
	free := rd.freeLocked()
	rd.mu.Unlock()
	if free {
		rd.recycle()
	}
	if found && res.err == nil && (!res.found || res.entry.Version.Less(newest.Version)) {
		n.repair(key, newest, []replicaResult{res}, false, nil)
	}
}

// wait blocks until need answers succeeded, until every replica asked has
// answered, or until ctx ends (then it returns ctx's error). It returns the
// successful answers and the errors so far, and moves the read to decided:
// the returned slices no longer change, and stay valid until done.
func (rd *readOp) wait(ctx context.Context, need int) ([]replicaResult, []error, error) {
	for {
		rd.mu.Lock()
		// No early exit when need can no longer be reached: readPrevious
		// wants every answer that comes.
		if len(rd.answers) >= need || rd.pending == 0 {
			rd.phase = readDecided
			answers, errs := rd.answers, rd.errs
			rd.mu.Unlock()
			return answers, errs, nil
		}
		rd.mu.Unlock()
		select {
		case <-rd.wake:
		case <-ctx.Done():
			rd.mu.Lock()
			rd.phase = readDecided
			rd.mu.Unlock()
			return nil, nil, ctx.Err()
		}
	}
}

// gather waits until need answers succeeded, asking cands[asked:] as it
// goes: one more for each answer that fails, and all of them once hedge
// passes (hedge > 0). It returns like wait, when need answers are in, when
// no more can come, or when ctx ends.
func (rd *readOp) gather(ctx context.Context, st *ringState, cands []string, asked, need int, hedge time.Duration, strict bool) ([]replicaResult, []error, error) {
	var hedgeC <-chan time.Time
	if hedge > 0 && asked < len(cands) {
		if rd.timer == nil {
			rd.timer = time.NewTimer(hedge)
		} else {
			rd.timer.Reset(hedge)
		}
		defer rd.timer.Stop()
		hedgeC = rd.timer.C
	}
	for {
		rd.mu.Lock()
		got, pending := len(rd.answers), rd.pending
		if got >= need || got+pending < need && asked == len(cands) {
			rd.phase = readDecided
			answers, errs := rd.answers, rd.errs
			rd.mu.Unlock()
			return answers, errs, nil
		}
		rd.mu.Unlock()
		if got+pending < need {
			// A replica failed: ask the next one.
			rd.ask(st, cands[asked], strict)
			asked++
			continue
		}
		select {
		case <-rd.wake:
		case <-hedgeC:
			hedgeC = nil
			for _, id := range cands[asked:] {
				rd.ask(st, id, strict)
			}
			asked = len(cands)
			rd.n.met.readHedges.Add(1)
		case <-ctx.Done():
			rd.mu.Lock()
			rd.phase = readDecided
			rd.mu.Unlock()
			return nil, nil, ctx.Err()
		}
	}
}

// settle ends the coordinator's wait for answers. With a newest entry, the
// replicas whose answers came in after wait returned and hold an older
// version (or none) are repaired in the background, now or when their
// answers arrive; with nil, late answers are dropped. Only the first call
// has an effect. The answers wait returned stay valid until done.
func (rd *readOp) settle(newest *storage.Entry) {
	rd.mu.Lock()
	if rd.phase == readSettled {
		rd.mu.Unlock()
		return
	}
	rd.phase = readSettled
	var e storage.Entry
	if newest != nil {
		e = *newest
		rd.newest, rd.found = e, true
	}
	late := rd.late
	rd.late = nil
	rd.mu.Unlock()
	if newest != nil && len(late) > 0 {
		rd.n.repair(rd.key, e, late, false, nil)
	}
}

// done releases the coordinator's hold on a settled read: the answers wait
// returned must not be used after it.
func (rd *readOp) done() {
	rd.mu.Lock()
	rd.held = false
	free := rd.freeLocked()
	rd.mu.Unlock()
	if free {
		rd.recycle()
	}
}
