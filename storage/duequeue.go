package storage

import "slices"

// The due queue of a shard is a binary min-heap of uint64 items:
// deadline unit << 32 | chunk ref. A unit is a multiple of
// Config.ExpiryResolution after the engine's epoch (rounded up), so an item
// is due once epoch + unit*resolution <= now. Items are not removed when an
// entry is overwritten or deleted: a popped item is checked against the
// entry its ref addresses now, and the queue is compacted when stale items
// outnumber live deadlines. Deadlines usually grow with time, so a push
// mostly stops after one comparison.

// growCap returns the capacity to grow an 8-byte-item slice of length n to.
func growCap(n int) int {
	c := n + n/8 + 16
	if n < smallItems && c > smallItems {
		return smallItems // fill the largest small size class first
	}
	return pageRound(c)
}

func (sh *shard) pushDue(unit uint32, ref uint32) {
	if len(sh.due) == cap(sh.due) {
		// Grow by about 1/8 rather than by append's larger steps: the queue
		// holds an item per entry with a deadline, so its slack is
		// per-entry memory. slices.Grow rounds up to the allocation size.
		sh.due = slices.Grow(sh.due, growCap(len(sh.due))-len(sh.due))
	}
	sh.due = append(sh.due, uint64(unit)<<32|uint64(ref))
	q := sh.due
	i := len(q) - 1
	for i > 0 {
		p := (i - 1) / 2
		if q[p] <= q[i] {
			break
		}
		q[p], q[i] = q[i], q[p]
		i = p
	}
}

func (sh *shard) popDue() uint64 {
	q := sh.due
	top := q[0]
	last := len(q) - 1
	q[0] = q[last]
	sh.due = q[:last]
	siftDown(sh.due, 0)
	return top
}

func siftDown(q []uint64, i int) {
	n := len(q)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && q[r] < q[l] {
			m = r
		}
		if q[i] <= q[m] {
			return
		}
		q[i], q[m] = q[m], q[i]
		i = m
	}
}

func heapify(q []uint64) {
	for i := len(q)/2 - 1; i >= 0; i-- {
		siftDown(q, i)
	}
}
