package ring

import (
	"fmt"
	"slices"
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// KeyHash returns the ring position of key: its xxhash64 value unless
// Config.Hash was set. Storage backends that bucket keys by the same hash can
// use the Range values of OwnedRanges and Diff directly.
func (r *Ring) KeyHash(key string) uint64 {
	if r.cfg.Hash == nil {
		return xxhash.Sum64String(key)
	}
	return r.cfg.Hash(unsafe.Slice(unsafe.StringData(key), len(key)))
}

// KeyHashBytes is KeyHash for a []byte key.
func (r *Ring) KeyHashBytes(key []byte) uint64 {
	if r.cfg.Hash == nil {
		return xxhash.Sum64(key)
	}
	return r.cfg.Hash(key)
}

// Locate returns the ID of the primary owner of key: the member of the first
// virtual node whose position is greater than KeyHash(key), wrapping around.
// It neither allocates nor copies the key. Use Member for the member's zone
// and weight.
func (r *Ring) Locate(key string) string {
	var h uint64
	if r.cfg.Hash == nil {
		h = xxhash.Sum64String(key)
	} else {
		h = r.cfg.Hash(unsafe.Slice(unsafe.StringData(key), len(key)))
	}
	if o, ok := r.cutOwner(h); ok {
		return r.ids[o]
	}
	return r.ids[r.ownerExact(h)]
}

// LocateBytes is Locate for a []byte key.
func (r *Ring) LocateBytes(key []byte) string {
	var h uint64
	if r.cfg.Hash == nil {
		h = xxhash.Sum64(key)
	} else {
		h = r.cfg.Hash(key)
	}
	if o, ok := r.cutOwner(h); ok {
		return r.ids[o]
	}
	return r.ids[r.ownerExact(h)]
}

// LocateHash is Locate for a key whose position h (from KeyHash) is already
// known.
func (r *Ring) LocateHash(h uint64) string {
	return r.ids[r.ownerOf(h)]
}

// Replicas appends the IDs of the n members that replicate key to dst and
// returns the extended slice. The first is Locate(key); the others follow in
// ring order, all distinct, one per zone while zones last: when the ring has
// at least n zones no two replicas share a zone, otherwise every zone is used
// before any is repeated. The result for n is a prefix of the result for n+1.
//
// Replicas allocates nothing when cap(dst)-len(dst) >= n (pass buf[:0] of a
// reused buffer). With n <= Config.PrecomputedReplicas it is a table lookup;
// a larger n walks the ring (same result, slower). It returns
// ErrInvalidReplicaCount for n < 1 and ErrTooFewMembers for n > Len(), in
// both cases with dst unchanged.
func (r *Ring) Replicas(key string, n int, dst []string) ([]string, error) {
	var h uint64
	if r.cfg.Hash == nil {
		h = xxhash.Sum64String(key)
	} else {
		h = r.cfg.Hash(unsafe.Slice(unsafe.StringData(key), len(key)))
	}
	return r.ReplicasHash(h, n, dst)
}

// ReplicasBytes is Replicas for a []byte key.
func (r *Ring) ReplicasBytes(key []byte, n int, dst []string) ([]string, error) {
	var h uint64
	if r.cfg.Hash == nil {
		h = xxhash.Sum64(key)
	} else {
		h = r.cfg.Hash(key)
	}
	return r.ReplicasHash(h, n, dst)
}

// ReplicasHash is Replicas for a key whose position h (from KeyHash) is
// already known.
func (r *Ring) ReplicasHash(h uint64, n int, dst []string) ([]string, error) {
	if n < 1 || n > len(r.ids) {
		return dst, r.replicaCountError(n)
	}
	v, ok := r.slotVNode(h)
	if !ok {
		v = r.vnodeFor(h)
	}
	if n > r.npref {
		return r.walk(v, n, dst), nil
	}
	p := r.prefs[v*r.npref : v*r.npref+n]
	if l := len(dst); cap(dst)-l >= n {
		dst = dst[:l+n]
		out := dst[l:]
		for i, m := range p {
			out[i] = r.ids[m]
		}
		return dst, nil
	}
	for _, m := range p {
		dst = append(dst, r.ids[m])
	}
	return dst, nil
}

func (r *Ring) replicaCountError(n int) error {
	if n < 1 {
		return fmt.Errorf("%w: got %d", ErrInvalidReplicaCount, n)
	}
	return fmt.Errorf("%w: want %d, have %d", ErrTooFewMembers, n, len(r.ids))
}

// walk is the definition of a preference list, and the slow path: starting
// at virtual node start, take the owner of each virtual node in ring order
// if its zone is not taken yet; once every zone is taken (or the walk came
// full circle), walk again from start taking every member not taken yet.
// n must be in [1, Len()]. Rings of up to 1024 members track what is taken
// in bitsets on the stack; larger ones recognise taken members by scanning
// dst[base:]. Neither allocates beyond dst.
func (r *Ring) walk(start, n int, dst []string) []string {
	if len(r.ids) <= 1024 {
		return r.walkSmall(start, n, dst)
	}
	base := len(dst)
	B := len(r.pos)
	zones := 0
	for k, i := 0, start; k < B && zones < r.nzones && zones < n; k++ {
		m := r.owner[i]
		if !r.zoneTaken(dst[base:], r.zoneOf[m]) {
			dst = append(dst, r.ids[m])
			zones++
		}
		if i++; i == B {
			i = 0
		}
	}
	for k, i := 0, start; k < B && len(dst)-base < n; k++ {
		id := r.ids[r.owner[i]]
		if !slices.Contains(dst[base:], id) {
			dst = append(dst, id)
		}
		if i++; i == B {
			i = 0
		}
	}
	return dst
}

// walkSmall is walk for rings of at most 1024 members (and so zones).
func (r *Ring) walkSmall(start, n int, dst []string) []string {
	var taken, zoneTaken [16]uint64
	B := len(r.pos)
	got, zones := 0, 0
	for k, i := 0, start; k < B && zones < r.nzones && zones < n; k++ {
		m := r.owner[i]
		if z := r.zoneOf[m]; zoneTaken[z>>6]&(1<<(z&63)) == 0 {
			zoneTaken[z>>6] |= 1 << (z & 63)
			taken[m>>6] |= 1 << (m & 63)
			dst = append(dst, r.ids[m])
			zones++
			got++
		}
		if i++; i == B {
			i = 0
		}
	}
	for k, i := 0, start; k < B && got < n; k++ {
		if m := r.owner[i]; taken[m>>6]&(1<<(m&63)) == 0 {
			taken[m>>6] |= 1 << (m & 63)
			dst = append(dst, r.ids[m])
			got++
		}
		if i++; i == B {
			i = 0
		}
	}
	return dst
}

// zoneTaken reports whether a member of zone z is among the IDs taken.
func (r *Ring) zoneTaken(taken []string, z uint16) bool {
	for _, id := range taken {
		if i, _ := r.index(id); r.zoneOf[i] == z {
			return true
		}
	}
	return false
}
