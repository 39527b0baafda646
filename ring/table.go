package ring

import (
	"math/bits"
	"slices"
)

// This file builds the acceleration structures of a ring. All are pure
// functions of the sorted virtual nodes, so lookups through them return
// exactly what a walk of the virtual node ring returns (TestFastPathEqualsWalk
// and TestReplicasProperties check that at every virtual node boundary).
//
//  1. prefs: for every virtual node, the first npref entries of its
//     preference list (what walk returns for a key landing on it).
//  2. slots (for Replicas): indexed by the top bits of a hash, each entry
//     names the virtual node owning the slot, or the two sharing it and the
//     cut between them; slots with more boundaries scan forward from their
//     first candidate (see buildSlots).
//  3. cuts or owners (for Locate): the same idea one step further, naming
//     members instead of virtual nodes, so that most lookups read one table
//     entry and no virtual node data (see buildOwners).

// mixedOwners and mixed8 mark an owner-table slot whose hash interval is
// split between several members.
const (
	mixedOwners = 0xffff
	mixed8      = 0xff
)

// tableBits returns the sizes (log2) of the replica slot table and of the
// owner table. Automatic sizing gives the slot table about 4 slots per
// virtual node (at most 2^20 slots, 4 MiB) and the owner table as many (at
// most 2^21 slots: 8 MiB with 4-byte cut entries, 4 MiB with 2-byte ones).
// For 10 members with 150 virtual nodes each that is 2^13 owner slots
// (32 KiB), of which about 2% need the exact path. An explicit
// Config.TableBits sets both.
func tableBits(configured, vnodes int) (slots, owners int) {
	if configured != 0 {
		return configured, configured
	}
	l := bits.Len(uint(vnodes)*4 - 1)
	return max(MinTableBits, min(l, 20)), max(MinTableBits, min(l, 21))
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

// Replica slot table entries: bits 0-22 hold a virtual node index j, bit 23
// is the exact flag, bits 24-31 a cut. Without the flag, a hash whose top 8
// offset bits within the slot are below the cut belongs to virtual node j,
// above it to j+1 (wrapping); equal ones, and every hash of a flagged slot,
// take the exact path: scan forward from j. A slot with no position inside
// has cut 0xff (so only offsets 0xff.. take the exact path, where the scan
// stops at once); a slot with exactly one position inside, pos[j], has the
// top 8 bits of pos[j]'s offset as cut; others are flagged. Slots above the
// last position are flagged with j = B-1, where the scan wraps to 0.
const (
	slotIndexMask = 1<<23 - 1
	slotExact     = 1 << 23
)

func (r *Ring) buildSlots(tb int) {
	r.shift = uint(64 - tb)
	r.stb = uint(tb)
	r.slots = make([]uint32, 1<<tb)
	B := len(r.pos)
	r.forSlots(tb, func(from, to, j int) {
		v := uint32(j) | 0xff<<24
		if j == B {
			v = uint32(B-1) | slotExact
		}
		for s := from; s < to; s++ {
			r.slots[s] = v
		}
	}, func(s, j int) {
		lo := uint64(s) << r.shift
		hi := lo + (1<<r.shift - 1)
		if j+1 < B && r.pos[j+1] <= hi {
			r.slots[s] = uint32(j) | slotExact
			return
		}
		r.slots[s] = uint32(j) | uint32((r.pos[j]-lo)>>(r.shift-8))<<24
	})
}

// buildOwners fills the owner table used by Locate.
//
// Rings of fewer than 255 members get the "cut" table: one uint32 per slot
// holding two member indexes and a cut point, for slots in which the owner
// changes at most once. Byte 0 is the owner below the cut (or mixed8 when the
// owner changes more than once in the slot), byte 1 the owner from the cut
// on, and the top 16 bits the cut: the top 16 bits of the change position's
// offset within the slot. A lookup whose own top 16 offset bits differ from
// the cut is decided by that comparison alone; an equal one (about one in
// 65536) takes the exact path. Slots where the owner does not change have
// both owners equal and cut 0.
//
// Larger rings get one uint16 per slot: the member owning the whole slot, or
// mixedOwners.
func (r *Ring) buildOwners(tb int) {
	r.oshift = uint(64 - tb)
	r.otb = uint(tb)
	B := len(r.pos)
	ownerAt := func(j int) uint16 {
		if j == B {
			return r.owner[0]
		}
		return r.owner[j]
	}
	lo := func(s int) uint64 { return uint64(s) << r.oshift }
	hi := func(s int) uint64 { return lo(s) + (1<<r.oshift - 1) }
	if len(r.members) >= mixed8 {
		r.owners = make([]uint16, 1<<tb)
		r.forSlots(tb, func(from, to, j int) {
			o := ownerAt(j)
			for s := from; s < to; s++ {
				r.owners[s] = o
			}
		}, func(s, j int) {
			// Virtual nodes j, j+1, ... up to the first one above the
			// slot's end own parts of it.
			o := ownerAt(j)
			for k := j; k < B && r.pos[k] <= hi(s); k++ {
				if ownerAt(k+1) != o {
					o = mixedOwners
					break
				}
			}
			r.owners[s] = o
		})
		return
	}
	r.cuts = make([]uint32, 1<<tb)
	r.forSlots(tb, func(from, to, j int) {
		o := uint32(ownerAt(j))
		for s := from; s < to; s++ {
			r.cuts[s] = o | o<<8
		}
	}, func(s, j int) {
		a := ownerAt(j)
		b, cut, changes := a, uint64(0), 0
		for k := j; k < B && r.pos[k] <= hi(s); k++ {
			if next := ownerAt(k + 1); next != b {
				// Positions from pos[k] on belong to virtual node k+1.
				b, cut = next, (r.pos[k]-lo(s))>>(r.oshift-16)
				changes++
			}
		}
		switch changes {
		case 0:
			r.cuts[s] = uint32(a) | uint32(a)<<8
		case 1:
			r.cuts[s] = uint32(a) | uint32(b)<<8 | uint32(cut)<<16
		default:
			r.cuts[s] = mixed8
		}
	})
}

// ownerOf returns the member index that owns hash h.
func (r *Ring) ownerOf(h uint64) int {
	if o, ok := r.cutOwner(h); ok {
		return o
	}
	return r.ownerExact(h)
}

// cutOwner answers from the cut table when it can. It is small enough to be
// inlined into Locate.
func (r *Ring) cutOwner(h uint64) (int, bool) {
	if r.cuts == nil {
		return 0, false
	}
	e := r.cuts[h>>(r.oshift&63)]
	off := uint32((h << (r.otb & 63)) >> 48)
	cut := e >> 16
	if uint8(e) == mixed8 || off == cut {
		return 0, false
	}
	if off > cut {
		e >>= 8
	}
	return int(e & 0xff), true
}

// ownerExact is ownerOf without the cut table.
func (r *Ring) ownerExact(h uint64) int {
	if r.owners != nil {
		if o := r.owners[h>>(r.oshift&63)]; o != mixedOwners {
			return int(o)
		}
	}
	return int(r.owner[r.vnodeFor(h)])
}

// vnodeFor returns the virtual node that owns hash h: the first one whose
// position is greater than h, wrapping to 0.
func (r *Ring) vnodeFor(h uint64) int {
	if v, ok := r.slotVNode(h); ok {
		return v
	}
	return r.scanFrom(int(r.slots[h>>(r.shift&63)]&slotIndexMask), h)
}

// slotVNode answers from the replica slot table when it can. It is small
// enough to be inlined.
func (r *Ring) slotVNode(h uint64) (int, bool) {
	e := r.slots[h>>(r.shift&63)]
	if e&slotExact != 0 {
		return 0, false
	}
	j := int(e & slotIndexMask)
	off, cut := uint32((h<<(r.stb&63))>>56), e>>24
	if off < cut {
		return j, true
	}
	if off == cut {
		return 0, false
	}
	if j++; j == len(r.pos) {
		j = 0
	}
	return j, true
}

// scanFrom is the exact path of vnodeFor: the first virtual node at or after
// j whose position is greater than h, wrapping to 0.
func (r *Ring) scanFrom(j int, h uint64) int {
	pos := r.pos
	for j < len(pos) && pos[j] <= h {
		j++
	}
	if j == len(pos) {
		return 0
	}
	return j
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
