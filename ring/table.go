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

func (r *Ring) buildSlots(tb int) {
	r.shift = uint(64 - tb)
	n := 1 << tb
	r.slots = make([]uint32, n)
	B := len(r.pos)
	j := 0 // first virtual node with pos > slot start
	for s := 0; s < n; s++ {
		lo := uint64(s) << r.shift
		hi := lo + (1<<r.shift - 1)
		for j < B && r.pos[j] <= lo {
			j++
		}
		switch {
		case j == B: // nothing above lo: the slot wraps to virtual node 0
			r.slots[s] = 0
		case r.pos[j] > hi: // no position inside the slot
			r.slots[s] = uint32(j)
		default:
			r.slots[s] = uint32(j) | impure
		}
	}
}

// buildOwners fills the owner table used by Locate: slot s holds the member
// that owns the whole of its hash interval, or a "mixed" marker. Rings of
// fewer than 255 members use one byte per slot (so 64 KiB covers 2^16
// slots and stays in L2, usually L1), larger ones two.
func (r *Ring) buildOwners(tb int) {
	r.oshift = uint(64 - tb)
	n := 1 << tb
	small := len(r.members) < mixed8
	if small {
		r.owners8 = make([]uint8, n)
	} else {
		r.owners = make([]uint16, n)
	}
	B := len(r.pos)
	j := 0 // first virtual node with pos > slot start
	for s := 0; s < n; s++ {
		lo := uint64(s) << r.oshift
		hi := lo + (1<<r.oshift - 1)
		for j < B && r.pos[j] <= lo {
			j++
		}
		o := r.owner[j%B]
		// Virtual nodes j, j+1, ... up to the first one above hi own parts
		// of [lo, hi].
		for k := j; k < B && r.pos[k] <= hi; k++ {
			if r.owner[(k+1)%B] != o {
				o = mixedOwners
				break
			}
		}
		if !small {
			r.owners[s] = o
		} else if o == mixedOwners {
			r.owners8[s] = mixed8
		} else {
			r.owners8[s] = uint8(o)
		}
	}
}

// ownerOf returns the member index that owns hash h.
func (r *Ring) ownerOf(h uint64) int {
	if r.owners8 != nil {
		if o := r.owners8[h>>r.oshift]; o != mixed8 {
			return int(o)
		}
	} else if o := r.owners[h>>r.oshift]; o != mixedOwners {
		return int(o)
	}
	return int(r.owner[r.vnodeFor(h)])
}

// vnodeFor returns the virtual node that owns hash h: the first one whose
// position is greater than h, wrapping to 0.
func (r *Ring) vnodeFor(h uint64) int {
	e := r.slots[h>>r.shift]
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
