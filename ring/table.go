package ring

import (
	"math/bits"
	"slices"
)

// This file builds the two acceleration structures of a ring. Both are pure
// functions of the sorted virtual nodes, so lookups through them return
// exactly what a walk of the virtual node ring returns (TestFastPathEqualsWalk
// checks that).
//
//  1. prefs: for every virtual node, the first npref entries of its
//     preference list (what walk returns for a key landing on it).
//  2. slots: 2^bits entries, indexed by the top bits of a hash. A slot whose
//     hash interval contains no virtual node position maps straight to the
//     virtual node that owns the whole interval; any other slot holds the
//     first candidate virtual node, flagged, and the lookup scans forward a
//     few positions from there.

const impure = 1 << 31

// mixedOwners and mixed8 mark an owner-table slot whose hash interval is
// split between several members.
const (
	mixedOwners = 0xffff
	mixed8      = 0xff
)

// tableBits returns the sizes (log2) of the replica slot table and of the
// owner table. Automatic sizing gives the slot table about 4 slots per
// virtual node (at most 2^20 slots, 4 MiB) and the owner table about 32 (at
// most 2^18 slots: 256 KiB, or 512 KiB for 255 members or more). For 10
// members with 150 virtual nodes each that is 2^16 owner slots, of which
// about 2% are mixed. An explicit Config.TableBits sets the slot table, and
// the owner table gets three more bits.
func tableBits(configured, vnodes int) (slots, owners int) {
	if configured != 0 {
		return configured, min(configured+3, MaxTableBits)
	}
	l := bits.Len(uint(vnodes)*4 - 1)
	return max(MinTableBits, min(l, 20)), max(MinTableBits, min(l+3, 18))
}

// forSlots classifies the 2^tb slots of the hash space for a table builder.
// Runs of slots that contain no virtual node position (so one virtual node,
// j, owns each whole slot) are reported with pure(from, to, j); any other
// slot with mixedSlot(s, j), j being its first candidate virtual node (the
// first whose position is above the slot start). j == len(r.pos) means the
// wrap-around to virtual node 0. Cost O(2^tb + B), no divisions.
func (r *Ring) forSlots(tb int, pure func(from, to, j int), mixedSlot func(s, j int)) {
	shift := uint(64 - tb)
	n := 1 << tb
	B := len(r.pos)
	j := 0
	for s := 0; s < n; {
		lo := uint64(s) << shift
		for j < B && r.pos[j] <= lo {
			j++
		}
		if j == B {
			pure(s, n, B)
			return
		}
		// Slots below the one holding pos[j] lie entirely under pos[j].
		if ps := int(r.pos[j] >> shift); ps > s {
			pure(s, ps, j)
			s = ps
			continue
		}
		mixedSlot(s, j)
		s++
	}
}

func (r *Ring) buildSlots(tb int) {
	r.shift = uint(64 - tb)
	r.slots = make([]uint32, 1<<tb)
	B := len(r.pos)
	r.forSlots(tb, func(from, to, j int) {
		v := uint32(j)
		if j == B {
			v = 0
		}
		for s := from; s < to; s++ {
			r.slots[s] = v
		}
	}, func(s, j int) {
		r.slots[s] = uint32(j) | impure
	})
}

// buildOwners fills the owner table used by Locate: slot s holds the member
// that owns the whole of its hash interval, or a "mixed" marker. Rings of
// fewer than 255 members use one byte per slot (so 64 KiB covers 2^16
// slots and stays in L2, usually L1), larger ones two.
func (r *Ring) buildOwners(tb int) {
	r.oshift = uint(64 - tb)
	B := len(r.pos)
	ownerAt := func(j int) uint16 {
		if j == B {
			return r.owner[0]
		}
		return r.owner[j]
	}
	hiOf := func(s int) uint64 { return uint64(s)<<r.oshift + (1<<r.oshift - 1) }
	t := make([]uint16, 1<<tb)
	r.forSlots(tb, func(from, to, j int) {
		o := ownerAt(j)
		for s := from; s < to; s++ {
			t[s] = o
		}
	}, func(s, j int) {
		// Virtual nodes j, j+1, ... up to the first one above the slot's
		// end own parts of it.
		o, hi := ownerAt(j), hiOf(s)
		for k := j; k < B && r.pos[k] <= hi; k++ {
			if ownerAt(k+1) != o {
				o = mixedOwners
				break
			}
		}
		t[s] = o
	})
	if len(r.members) >= mixed8 {
		r.owners = t
		return
	}
	r.owners8 = make([]uint8, len(t))
	for s, o := range t {
		r.owners8[s] = uint8(o) // mixedOwners (0xffff) becomes mixed8 (0xff)
	}
}

// ownerOf returns the member index that owns hash h.
func (r *Ring) ownerOf(h uint64) int {
	if r.owners8 != nil {
		if o := r.owners8[h>>(r.oshift&63)]; o != mixed8 {
			return int(o)
		}
	} else if o := r.owners[h>>(r.oshift&63)]; o != mixedOwners {
		return int(o)
	}
	return int(r.owner[r.vnodeFor(h)])
}

// vnodeFor returns the virtual node that owns hash h: the first one whose
// position is greater than h, wrapping to 0.
func (r *Ring) vnodeFor(h uint64) int {
	e := r.slots[h>>(r.shift&63)]
	if e&impure == 0 {
		return int(e)
	}
	i := int(e &^ impure)
	pos := r.pos
	for i < len(pos) && pos[i] <= h {
		i++
	}
	if i == len(pos) {
		return 0
	}
	return i
}

// buildPrefs computes, for every virtual node i, the first k entries of the
// preference list a walk from i produces (see walk): first one member per
// zone, zones in order of first appearance, each represented by the member
// seen first; then the remaining members in order of first appearance.
//
// It runs backwards around the ring once, keeping two move-to-front lists
// truncated to k entries: zones and members ordered by their next appearance
// at or after i. The lists start as they are at position 0 (where the walk
// from the last virtual node continues), found by a short forward walk.
// Cost: O(B*k).
func (r *Ring) buildPrefs(k int) []uint16 {
	B := len(r.pos)
	k = min(k, len(r.members))
	out := make([]uint16, B*k)
	zl := make([]zoneRep, 0, k+1) // zones by next appearance, with the member seen there
	ml := make([]uint16, 0, k+1)  // members by next appearance
	for i := 0; i < B && (len(zl) < min(k, r.nzones) || len(ml) < k); i++ {
		m := r.owner[i]
		if z := r.zoneOf[m]; len(zl) < k && !hasZone(zl, z) {
			zl = append(zl, zoneRep{z, m})
		}
		if len(ml) < k && !slices.Contains(ml, m) {
			ml = append(ml, m)
		}
	}
	for i := B - 1; i >= 0; i-- {
		m := r.owner[i]
		z := r.zoneOf[m]
		zl = zonesToFront(zl, zoneRep{z, m}, k)
		ml = membersToFront(ml, m, k)
		p := out[i*k : i*k+k : i*k+k]
		n := copyReps(p, zl)
		for _, e := range ml {
			if n == k {
				break
			}
			if !isRep(zl, e) {
				p[n] = e
				n++
			}
		}
	}
	return out
}

// zoneRep is a zone and the member that represents it in a preference list.
type zoneRep struct{ zone, member uint16 }

func hasZone(zl []zoneRep, z uint16) bool {
	for _, e := range zl {
		if e.zone == z {
			return true
		}
	}
	return false
}

func isRep(zl []zoneRep, m uint16) bool {
	for _, e := range zl {
		if e.member == m {
			return true
		}
	}
	return false
}

func copyReps(p []uint16, zl []zoneRep) int {
	for i, e := range zl {
		p[i] = e.member
	}
	return len(zl)
}

// zonesToFront puts v first in l, removing the old entry of v's zone if
// present, and truncates l to k entries.
func zonesToFront(l []zoneRep, v zoneRep, k int) []zoneRep {
	at := len(l)
	for i, e := range l {
		if e.zone == v.zone {
			at = i
			break
		}
	}
	if at == len(l) {
		l = append(l, v)
	}
	copy(l[1:at+1], l[:at])
	l[0] = v
	return l[:min(len(l), k)]
}

// membersToFront is zonesToFront for the member list.
func membersToFront(l []uint16, m uint16, k int) []uint16 {
	at := slices.Index(l, m)
	if at < 0 {
		at = len(l)
		l = append(l, m)
	}
	copy(l[1:at+1], l[:at])
	l[0] = m
	return l[:min(len(l), k)]
}
