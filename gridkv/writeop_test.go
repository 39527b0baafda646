package gridkv

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
)

func TestWriteOpAcks(t *testing.T) {
	n := &Node{}
	w := n.newWrite()
	w.start()
	w.start()
	w.add(writeAck{target: "local"})
	if a, err := w.next(context.Background()); err != nil || a.target != "local" {
		t.Fatalf("next = %+v, %v", a, err)
	}
	w.post(writeAck{target: "r1"})
	if a, err := w.next(context.Background()); err != nil || a.target != "r1" {
		t.Fatalf("next = %+v, %v", a, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := w.next(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("next with nothing to take and a cancelled context = %v", err)
	}
	w.done()
	if w.n != n {
		t.Fatal("recycled while a request was still running")
	}
	w.post(writeAck{target: "r2", err: errReplicaDown}) // after done: dropped, and the op is recycled
	if w.n != nil || len(w.acks) != 0 || w.held {
		t.Fatalf("not recycled after the last request posted: %+v", w)
	}
}

// TestWriteOpConcurrentPosts: requests post while the coordinator takes
// acknowledgements and gives up halfway; every ack taken is one posted,
// none twice.
func TestWriteOpConcurrentPosts(t *testing.T) {
	n := &Node{}
	for round := range 200 {
		w := n.newWrite()
		const reqs = 8
		var wg sync.WaitGroup
		for i := range reqs {
			w.start()
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.post(writeAck{target: fmt.Sprint(i)})
			}()
		}
		seen := map[string]bool{}
		for range reqs / 2 {
			a, err := w.next(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if seen[a.target] {
				t.Fatalf("round %d: ack %s taken twice", round, a.target)
			}
			seen[a.target] = true
		}
		w.done()
		wg.Wait()
	}
}

// TestRecycleClearsEveryField guards recycle's field-by-field reset: a field
// added later and not cleared would leak one operation's state into the
// next that reuses the op.
func TestRecycleClearsEveryField(t *testing.T) {
	check := func(name string, v any) {
		t.Helper()
		rv := reflect.ValueOf(v).Elem()
		for i := range rv.NumField() {
			f := rv.Type().Field(i)
			if f.Name == "mu" || f.Name == "wake" || f.Name == "timer" {
				continue
			}
			if !rv.Field(i).IsZero() {
				t.Errorf("%s.%s not cleared by recycle", name, f.Name)
			}
		}
	}
	n := &Node{}
	w := n.newWrite()
	w.payload = []byte("p")
	w.start()
	w.add(writeAck{target: "a"})
	w.taken = 1
	w.done()
	w.post(writeAck{}) // last: recycles
	check("writeOp", w)

	rd := n.newRead("k")
	rd.payload = []byte("p")
	rd.pending = 1
	rd.answers = append(rd.answers, replicaResult{target: "a", found: true})
	rd.errs = []error{errReplicaDown}
	rd.late = []replicaResult{{target: "b"}}
	rd.phase = readSettled
	rd.newest, rd.found = rd.answers[0].entry, true
	rd.newest.Expiry = 1
	rd.done()
	rd.deliver(replicaResult{target: "c", err: errReplicaDown}) // last: recycles
	check("readOp", rd)
}
