package ring

import (
	"fmt"
	"math"
	"slices"
	"strconv"
)

// Range is a half-open interval [Start, End) of ring positions (key hashes,
// see KeyHash). End == 0 stands for 2^64, the top of the ring, so {0, 0} is
// the whole ring. A Range never wraps around: an arc that crosses the top of
// the ring is reported as two ranges, [s, 0) and [0, e). Lists of ranges
// returned by this package are sorted by Start and do not overlap.
type Range struct {
	Start, End uint64
}

// Contains reports whether position h lies in the range.
func (g Range) Contains(h uint64) bool {
	return h >= g.Start && (g.End == 0 || h < g.End)
}

// Fraction returns the share of the ring the range covers, in [0, 1].
func (g Range) Fraction() float64 {
	if g.End == 0 {
		return (math.Exp2(64) - float64(g.Start)) / math.Exp2(64)
	}
	return float64(g.End-g.Start) / math.Exp2(64)
}

// String formats the range as [start, end) in hex, with 2^64 for End 0.
func (g Range) String() string {
	end := "0x" + strconv.FormatUint(g.End, 16)
	if g.End == 0 {
		end = "2^64"
	}
	return "[0x" + strconv.FormatUint(g.Start, 16) + ", " + end + ")"
}

// RangesContain reports whether h lies in one of rs, which must be sorted by
// Start and non-overlapping (as OwnedRanges and Diff return them). It is a
// binary search, so a storage scan can filter every entry against a long
// list of ranges in one pass.
func RangesContain(rs []Range, h uint64) bool {
	// First range whose Start is > h; the candidate is the one before it.
	i, _ := slices.BinarySearchFunc(rs, h, func(g Range, h uint64) int {
		if g.Start > h {
			return 1
		}
		return -1
	})
	return i > 0 && rs[i-1].Contains(h)
}

// RangeChange is a range whose replica set differs between two rings.
type RangeChange struct {
	Range Range
	// Old and New are the replica IDs in preference order (as Replicas
	// returns them) in the old and the new ring.
	Old, New []string
}

// prefTable returns preference lists of length k for every virtual node,
// with their stride: the precomputed table when it is long enough.
func (r *Ring) prefTable(k int) ([]uint16, int) {
	if k <= r.npref {
		return r.prefs, r.npref
	}
	return r.buildPrefs(k), k
}

// clampN validates a replica count for the range functions, which clamp it
// to the ring size: with n >= Len() every member replicates everything.
func (r *Ring) clampN(n int) (int, error) {
	if n < 1 {
		return 0, fmt.Errorf("%w: got %d", ErrInvalidReplicaCount, n)
	}
	return min(n, len(r.ids)), nil
}

// OwnedRanges returns the ranges of positions for which member id is one of
// the n replicas (as Replicas(key, n) would return them), sorted and merged.
// n larger than Len() is clamped to Len(). It returns ErrUnknownMember or
// ErrInvalidReplicaCount (wrapped) for bad input.
func (r *Ring) OwnedRanges(id string, n int) ([]Range, error) {
	m, ok := r.index(id)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownMember, id)
	}
	n, err := r.clampN(n)
	if err != nil {
		return nil, err
	}
	prefs, stride := r.prefTable(n)
	owns := func(v int) bool {
		return slices.Contains(prefs[v*stride:v*stride+n], uint16(m))
	}
	var out []Range
	add := func(start, end uint64) {
		if l := len(out); l > 0 && out[l-1].End == start {
			out[l-1].End = end
			return
		}
		out = append(out, Range{start, end})
	}
	B := len(r.pos)
	if owns(0) && r.pos[0] != 0 {
		add(0, r.pos[0])
	}
	for v := 1; v < B; v++ {
		if r.pos[v-1] != r.pos[v] && owns(v) {
			add(r.pos[v-1], r.pos[v])
		}
	}
	if owns(0) {
		add(r.pos[B-1], 0)
	}
	return out, nil
}

// Diff returns the ranges whose replica set (for n replicas) differs between
// old and new, sorted and merged, with both replica lists. A range whose
// replicas are the same members in another order is not a change. n is
// clamped to each ring's size. Both rings must use the same hash function.
// It returns ErrInvalidReplicaCount (wrapped) for n < 1.
func Diff(old, new *Ring, n int) ([]RangeChange, error) {
	no, err := old.clampN(n)
	if err != nil {
		return nil, err
	}
	nn, _ := new.clampN(n)
	op, os := old.prefTable(no)
	np, ns := new.prefTable(nn)
	// oldToNew maps an old member index to its index in new, or -1.
	oldToNew := make([]int, len(old.ids))
	for i, id := range old.ids {
		j, ok := new.index(id)
		if !ok {
			j = -1
		}
		oldToNew[i] = j
	}
	same := func(vo, vn int) bool {
		if no != nn {
			return false
		}
	outer:
		for _, a := range op[vo*os : vo*os+no] {
			b := oldToNew[a]
			for _, c := range np[vn*ns : vn*ns+nn] {
				if int(c) == b {
					continue outer
				}
			}
			return false
		}
		return true
	}

	var out []RangeChange
	var ids idArena
	lastO, lastN := -1, -1 // virtual nodes of the last change emitted
	emit := func(start, end uint64, vo, vn int) {
		if same(vo, vn) {
			return
		}
		if l := len(out); l > 0 && out[l-1].Range.End == start &&
			(vo == lastO || slices.Equal(op[vo*os:vo*os+no], op[lastO*os:lastO*os+no])) &&
			(vn == lastN || slices.Equal(np[vn*ns:vn*ns+nn], np[lastN*ns:lastN*ns+nn])) {
			out[l-1].Range.End = end
			return
		}
		out = append(out, RangeChange{
			Range: Range{start, end},
			Old:   ids.list(old, op[vo*os:vo*os+no]),
			New:   ids.list(new, np[vn*ns:vn*ns+nn]),
		})
		lastO, lastN = vo, vn
	}

	// Walk the union of both rings' positions: within each elementary
	// interval [start, end) both rings have a single owning virtual node.
	Bo, Bn := len(old.pos), len(new.pos)
	i, j := 0, 0
	for start := uint64(0); ; {
		for i < Bo && old.pos[i] <= start {
			i++
		}
		for j < Bn && new.pos[j] <= start {
			j++
		}
		end, top := uint64(0), true
		if i < Bo {
			end, top = old.pos[i], false
		}
		if j < Bn && (top || new.pos[j] < end) {
			end, top = new.pos[j], false
		}
		emit(start, end, i%Bo, j%Bn)
		if top {
			return out, nil
		}
		start = end
	}
}

// idArena hands out the Old and New lists of a Diff from shared chunks, so
// that a diff of many ranges makes a few allocations instead of two per
// range. Each list is a full slice expression: appending to one reallocates
// instead of overwriting its neighbour.
type idArena struct{ buf []string }

func (a *idArena) list(r *Ring, ms []uint16) []string {
	if cap(a.buf)-len(a.buf) < len(ms) {
		a.buf = make([]string, 0, max(4096, len(ms)))
	}
	l := len(a.buf)
	for _, m := range ms {
		a.buf = append(a.buf, r.ids[m])
	}
	return a.buf[l:len(a.buf):len(a.buf)]
}
