package ring

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// TestConcurrentReadersAndSwaps runs readers against an atomic.Pointer[Ring]
// while a writer keeps publishing derived rings (the recommended holder
// pattern). Run with -race. Each reader checks its answers against the ring
// snapshot it loaded, which must never change under it.
func TestConcurrentReadersAndSwaps(t *testing.T) {
	cfg := DefaultConfig()
	cfg.VNodesPerWeight = 64
	base := mustNew(t, nodes(6, 3), cfg)
	var cur atomic.Pointer[Ring]
	cur.Store(base)

	const readers, lookups, swaps = 4, 3000, 40
	var wg sync.WaitGroup
	errs := make(chan string, readers+1)
	for g := 0; g < readers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]string, 0, 3)
			for i := 0; i < lookups; i++ {
				r := cur.Load()
				key := "key-" + strconv.Itoa(i)
				owner := r.Locate(key)
				var err error
				buf, err = r.Replicas(key, 3, buf[:0])
				if err != nil || buf[0] != owner || owner != referenceOwner(r, r.KeyHash(key)) {
					errs <- "inconsistent answer for " + key
					return
				}
				if _, ok := r.Member(owner); !ok {
					errs <- "owner " + owner + " not in its own ring"
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < swaps; i++ {
			old := cur.Load()
			var next *Ring
			var err error
			if i%2 == 0 {
				next, err = old.With(Member{ID: "extra", Weight: 1, Zone: "zone-0"})
			} else {
				next, err = old.Without("extra")
			}
			if err != nil {
				errs <- err.Error()
				return
			}
			cur.Store(next)
		}
	}()
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if base.Len() != 6 {
		t.Error("the base ring changed")
	}
}
