package gridkv

import (
	"context"
	"fmt"
	"sync"

	"github.com/gridkv/gridkv/storage"
)

// writeOp collects the acknowledgements of one write's replica requests.
//
// The coordinator takes acknowledgements one at a time (next) until it has
// what it needs, then calls done; the requests still running post theirs
// into the op, which drops them. writeOps are recycled: one goes back to
// writePool when the coordinator is done and every request has posted,
// whichever comes last. Neither may touch it after that.
type writeOp struct {
	n       *Node
	payload []byte        // the request to the replicas, set before put
	wake    chan struct{} // capacity 1: an acknowledgement arrived

	mu      sync.Mutex
	acks    []writeAck // posted while held
	taken   int        // acks the coordinator has taken
	pending int        // requests running
	held    bool       // the coordinator has not called done yet
	buf     [2 * readInline]writeAck
}

var writePool = sync.Pool{New: func() any { return &writeOp{wake: make(chan struct{}, 1)} }}

func (n *Node) newWrite() *writeOp {
	w := writePool.Get().(*writeOp)
	w.n, w.held = n, true
	w.acks = w.buf[:0]
	return w
}

func (w *writeOp) recycle() {
	select {
	case <-w.wake:
	default:
	}
	// Field by field: the mutex is not overwritten (the last poster has
	// just unlocked it).
	w.n, w.payload, w.acks, w.taken, w.pending, w.held = nil, nil, nil, 0, 0, false
	clear(w.buf[:])
	writePool.Put(w)
}

// add records an acknowledgement the coordinator produced itself.
func (w *writeOp) add(a writeAck) {
	w.mu.Lock()
	w.acks = append(w.acks, a)
	w.mu.Unlock()
}

// post records a running request's acknowledgement.
func (w *writeOp) post(a writeAck) {
	w.mu.Lock()
	w.pending--
	if w.held {
		w.acks = append(w.acks, a)
		select {
		case w.wake <- struct{}{}:
		default: // a wake-up is pending already
		}
	}
	free := !w.held && w.pending == 0
	w.mu.Unlock()
	if free {
		w.recycle()
	}
}

// start counts a request about to run.
func (w *writeOp) start() {
	w.mu.Lock()
	w.pending++
	w.mu.Unlock()
}

// put sends w.payload to replica target at addr, on a goroutine that holds
// an in-flight slot.
func (w *writeOp) put(addr, target string) {
	if err := w.n.startCall(); err != nil {
		w.add(writeAck{target: target, err: err})
		return
	}
	w.start()
	go w.putTo(addr, target)
}

func (w *writeOp) putTo(addr, target string) {
	n := w.n // w may be recycled once post returns
	defer n.endCall()
	_, err := n.tr.Call(n.callCtx(), addr, msgPut, w.payload)
	w.post(writeAck{target: target, err: err})
}

// hint writes e to a stand-in on behalf of target, a replica that is down.
func (w *writeOp) hint(st *ringState, standIn, target, key string, e storage.Entry) {
	n := w.n
	if standIn == n.id {
		var err error
		if n.hints.add(target, []byte(key), e) {
			n.met.hintsStored.Add(1)
		} else {
			n.met.hintsDropped.Add(1)
			err = fmt.Errorf("%w: hint store full", ErrOverloaded)
		}
		w.add(writeAck{target: target, hint: true, err: err})
		return
	}
	if err := n.startCall(); err != nil {
		w.add(writeAck{target: target, hint: true, err: err})
		return
	}
	w.start()
	payload := appendPutRequest(nil, versionTime(e.Version), keyBytes(key), e, target)
	go w.hintTo(st.addrs[standIn], target, payload)
}

func (w *writeOp) hintTo(addr, target string, payload []byte) {
	n := w.n
	defer n.endCall()
	_, err := n.tr.Call(n.callCtx(), addr, msgPut, payload)
	w.post(writeAck{target: target, hint: true, err: err})
}

// next returns the next acknowledgement, waiting for it within ctx. The
// caller must know one is coming (it counts its requests).
func (w *writeOp) next(ctx context.Context) (writeAck, error) {
	for {
		w.mu.Lock()
		if w.taken < len(w.acks) {
			a := w.acks[w.taken]
			w.taken++
			w.mu.Unlock()
			return a, nil
		}
		w.mu.Unlock()
		select {
		case <-w.wake:
		case <-ctx.Done():
			return writeAck{}, ctx.Err()
		}
	}
}

// done releases the coordinator's hold: later acknowledgements are dropped.
func (w *writeOp) done() {
	w.mu.Lock()
	w.held = false
	free := w.pending == 0
	w.mu.Unlock()
	if free {
		w.recycle()
	}
}
