package ring

import (
	"cmp"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// Ring is an immutable consistent-hash ring. All methods are safe for
// concurrent use; none mutates the ring. Derive changed rings with With and
// Without, and publish them through an atomic.Pointer[Ring] (see the package
// documentation).
type Ring struct {
	cfg     Config
	members []Member // sorted by ID; a member's index is its position here
	ids     []string // members[i].ID, packed for the lookup paths
	zoneOf  []uint16 // member index -> zone index
	nzones  int

	// The virtual nodes, sorted by (position, member ID, vnode number).
	// Virtual node i owns the hash range [pos[i-1], pos[i]) (vnode 0 also
	// owns the wrap-around: [pos[B-1], 2^64) and [0, pos[0])).
	pos   []uint64
	owner []uint16

	// prefs[i*npref : i*npref+npref] is the start of the preference list of
	// a key that lands on virtual node i, as member indexes.
	prefs []uint16
	npref int

	// slots maps the top bits of a hash to a virtual node: see table.go.
	// Lookups shift by (shift & 63): shifts are always below 64, and the
	// mask lets the compiler drop its check for larger ones.
	slots []uint32
	shift uint
	stb   uint // 64 - shift

	total int // number of virtual nodes

	// cuts (fewer than 255 members) or owners maps the top bits of a hash
	// straight to a member: see buildOwners.
	cuts   []uint32
	owners []uint16
	oshift uint
	otb    uint // 64 - oshift
}

// New builds a ring from members (in any order) and cfg. The members slice is
// copied. It returns ErrNoMembers, ErrEmptyID, ErrIDTooLong, ErrDuplicateID,
// ErrZeroWeight, ErrTooManyMembers, ErrTooManyVNodes or ErrInvalidConfig
// (wrapped) for bad input.
func New(members []Member, cfg Config) (*Ring, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r, err := newShell(slices.Clone(members), cfg)
	if err != nil {
		return nil, err
	}
	vs := make([]vnode, 0, r.total)
	buf := make([]byte, 0, MaxIDLen+24)
	for mi := range r.members {
		vs, buf = r.appendVNodes(vs, buf, mi)
	}
	sortVNodes(vs)
	r.pos = make([]uint64, len(vs))
	r.owner = make([]uint16, len(vs))
	for i, v := range vs {
		r.pos[i] = v.pos
		r.owner[i] = uint16(v.owner)
	}
	r.buildTables()
	return r, nil
}

// newShell sorts and validates ms (which it takes ownership of) and returns
// a ring with members, IDs and zones set but no virtual nodes yet.
func newShell(ms []Member, cfg Config) (*Ring, error) {
	if len(ms) == 0 {
		return nil, ErrNoMembers
	}
	if len(ms) > MaxMembers {
		return nil, fmt.Errorf("%w: %d, limit %d", ErrTooManyMembers, len(ms), MaxMembers)
	}
	slices.SortFunc(ms, func(a, b Member) int { return cmp.Compare(a.ID, b.ID) })
	total := 0
	for i, m := range ms {
		if err := m.validate(); err != nil {
			return nil, err
		}
		if i > 0 && ms[i-1].ID == m.ID {
			return nil, fmt.Errorf("%w: %q", ErrDuplicateID, m.ID)
		}
		// Checked per member so the running total cannot overflow.
		if uint64(m.Weight)*uint64(cfg.VNodesPerWeight) > MaxVNodes {
			return nil, fmt.Errorf("%w: member %q alone needs %d, limit %d", ErrTooManyVNodes, m.ID, uint64(m.Weight)*uint64(cfg.VNodesPerWeight), MaxVNodes)
		}
		total += int(m.Weight) * cfg.VNodesPerWeight
		if total > MaxVNodes {
			return nil, fmt.Errorf("%w: limit %d", ErrTooManyVNodes, MaxVNodes)
		}
	}
	r := &Ring{cfg: cfg, members: ms, ids: make([]string, len(ms)), total: total}
	for i, m := range ms {
		r.ids[i] = m.ID
	}
	r.indexZones()
	return r, nil
}

// buildTables derives the preference lists and lookup tables from the sorted
// virtual nodes.
func (r *Ring) buildTables() {
	r.npref = min(r.cfg.PrecomputedReplicas, len(r.members))
	r.prefs = r.buildPrefs(r.npref)
	sb, ob := tableBits(r.cfg.TableBits, len(r.pos))
	r.buildSlots(sb)
	r.buildOwners(ob)
}

func (r *Ring) indexZones() {
	zones := make(map[string]uint16)
	r.zoneOf = make([]uint16, len(r.members))
	for i, m := range r.members {
		z, ok := zones[m.Zone]
		if !ok {
			z = uint16(len(zones))
			zones[m.Zone] = z
		}
		r.zoneOf[i] = z
	}
	r.nzones = len(zones)
}

// vnodeKey is the byte string hashed to place virtual node i of member id:
// id, '#', i in decimal. The part after the last '#' is always the number, so
// distinct (id, i) pairs never produce the same string. Changing this format
// changes every placement (see TestGoldenPlacement).
func vnodeKey(buf []byte, id string, i int) []byte {
	buf = append(buf[:0], id...)
	buf = append(buf, '#')
	return strconv.AppendInt(buf, int64(i), 10)
}

type vnode struct {
	pos   uint64
	owner uint32 // member index
	num   uint32 // vnode number within the member
}

// appendVNodes hashes the virtual nodes of member mi onto vs. Sorting them
// by (position, member, number) (sortVNodes) orders equal positions (hash
// collisions) deterministically: the first of them owns the range below the
// position, the others own empty ranges but still take part in replica
// walks. Members are sorted by ID, so member index order is ID order.
func (r *Ring) appendVNodes(vs []vnode, buf []byte, mi int) ([]vnode, []byte) {
	m := r.members[mi]
	n := int(m.Weight) * r.cfg.VNodesPerWeight
	for i := 0; i < n; i++ {
		buf = vnodeKey(buf, m.ID, i)
		vs = append(vs, vnode{pos: r.hashBytes(buf), owner: uint32(mi), num: uint32(i)})
	}
	return vs, buf
}

// sortVNodes sorts by (position, member, number). Positions are hashes, so
// distributing them into buckets by their top bits (about one virtual node
// per bucket) and finishing each bucket with a comparison sort is close to
// linear. Large rings first split by the top 8 bits, so that the second
// distribution works on cache-sized pieces. A degenerate hash that piles
// everything into one bucket still sorts in O(B log B).
func sortVNodes(vs []vnode) {
	if len(vs) < 256 {
		slices.SortFunc(vs, compareVNodes)
		return
	}
	tmp := make([]vnode, len(vs))
	if len(vs) < 1<<16 {
		distribute(vs, tmp, 0)
		copy(vs, tmp)
		return
	}
	var start [257]int
	for _, v := range vs {
		start[v.pos>>56+1]++
	}
	for i := 1; i < len(start); i++ {
		start[i] += start[i-1]
	}
	next := start
	for _, v := range vs {
		b := v.pos >> 56
		tmp[next[b]] = v
		next[b]++
	}
	for b := 0; b < 256; b++ {
		if lo, hi := start[b], start[b+1]; hi-lo > 1 {
			distribute(tmp[lo:hi], vs[lo:hi], 8)
		} else if hi-lo == 1 {
			vs[lo] = tmp[lo]
		}
	}
}

// distribute sorts src into dst (same length): buckets by the bits of pos
// below the top skip bits, then a comparison sort inside each bucket.
func distribute(src, dst []vnode, skip uint) {
	bb := bits.Len(uint(len(src)) - 1)
	shift := uint(64 - bb)
	bucket := func(v vnode) uint64 { return (v.pos << skip) >> shift }
	start := make([]int32, 1<<bb+1)
	for _, v := range src {
		start[bucket(v)+1]++
	}
	for i := 1; i < len(start); i++ {
		start[i] += start[i-1]
	}
	next := slices.Clone(start[:len(start)-1])
	for _, v := range src {
		b := bucket(v)
		dst[next[b]] = v
		next[b]++
	}
	for b := 0; b+1 < len(start); b++ {
		if lo, hi := start[b], start[b+1]; hi-lo > 1 {
			slices.SortFunc(dst[lo:hi], compareVNodes)
		}
	}
}

func compareVNodes(a, b vnode) int {
	if c := cmp.Compare(a.pos, b.pos); c != 0 {
		return c
	}
	if c := cmp.Compare(a.owner, b.owner); c != 0 {
		return c
	}
	return cmp.Compare(a.num, b.num)
}

// hashBytes positions b on the ring.
func (r *Ring) hashBytes(b []byte) uint64 {
	if r.cfg.Hash == nil {
		return xxhash.Sum64(b)
	}
	return r.cfg.Hash(b)
}

// With returns a new ring with the given members added, using the same
// config; r is unchanged. Adding an existing ID returns ErrDuplicateID. The
// result equals New of the combined member set, but only the added members'
// virtual nodes are hashed and sorted; the rest are merged in order.
func (r *Ring) With(add ...Member) (*Ring, error) {
	ms := make([]Member, 0, len(r.members)+len(add))
	ms = append(append(ms, r.members...), add...)
	nr, err := newShell(ms, r.cfg)
	if err != nil {
		return nil, err
	}
	remap := r.remap(nr)
	var fresh []vnode
	buf := make([]byte, 0, MaxIDLen+24)
	for mi, id := range nr.ids {
		if _, old := r.index(id); !old {
			fresh, buf = nr.appendVNodes(fresh, buf, mi)
		}
	}
	sortVNodes(fresh)
	nr.pos = make([]uint64, 0, nr.total)
	nr.owner = make([]uint16, 0, nr.total)
	i, j := 0, 0
	for i < len(r.pos) || j < len(fresh) {
		// Take the old virtual node unless the fresh one sorts first; equal
		// positions fall back to member order, which is ID order in both.
		if j == len(fresh) || (i < len(r.pos) && (r.pos[i] < fresh[j].pos ||
			r.pos[i] == fresh[j].pos && uint32(remap[r.owner[i]]) < fresh[j].owner)) {
			nr.pos = append(nr.pos, r.pos[i])
			nr.owner = append(nr.owner, uint16(remap[r.owner[i]]))
			i++
		} else {
			nr.pos = append(nr.pos, fresh[j].pos)
			nr.owner = append(nr.owner, uint16(fresh[j].owner))
			j++
		}
	}
	nr.buildTables()
	return nr, nil
}

// Without returns a new ring without the members with the given IDs, using
// the same config; r is unchanged. Naming an absent ID returns
// ErrUnknownMember; removing every member returns ErrNoMembers. The result
// equals New of the remaining members, built by filtering r's virtual nodes.
func (r *Ring) Without(ids ...string) (*Ring, error) {
	drop := make(map[string]bool, len(ids))
	for _, id := range ids {
		if _, ok := r.index(id); !ok {
			return nil, fmt.Errorf("%w: %q", ErrUnknownMember, id)
		}
		drop[id] = true
	}
	ms := make([]Member, 0, len(r.members))
	for _, m := range r.members {
		if !drop[m.ID] {
			ms = append(ms, m)
		}
	}
	nr, err := newShell(ms, r.cfg)
	if err != nil {
		return nil, err
	}
	remap := r.remap(nr)
	nr.pos = make([]uint64, 0, nr.total)
	nr.owner = make([]uint16, 0, nr.total)
	for i, o := range r.owner {
		if m := remap[o]; m >= 0 {
			nr.pos = append(nr.pos, r.pos[i])
			nr.owner = append(nr.owner, uint16(m))
		}
	}
	nr.buildTables()
	return nr, nil
}

// remap maps r's member indexes to nr's, -1 for members nr lacks.
func (r *Ring) remap(nr *Ring) []int32 {
	out := make([]int32, len(r.ids))
	for i, id := range r.ids {
		j, ok := nr.index(id)
		if !ok {
			j = -1
		}
		out[i] = int32(j)
	}
	return out
}

// Config returns the configuration the ring was built with.
func (r *Ring) Config() Config { return r.cfg }

// Len returns the number of members.
func (r *Ring) Len() int { return len(r.members) }

// Zones returns the number of distinct zones among the members.
func (r *Ring) Zones() int { return r.nzones }

// VNodes returns the total number of virtual nodes.
func (r *Ring) VNodes() int { return len(r.pos) }

// Members returns a copy of the members, sorted by ID.
func (r *Ring) Members() []Member { return slices.Clone(r.members) }

// Member returns the member with the given ID.
func (r *Ring) Member(id string) (Member, bool) {
	i, ok := r.index(id)
	if !ok {
		return Member{}, false
	}
	return r.members[i], true
}

func (r *Ring) index(id string) (int, bool) {
	return slices.BinarySearch(r.ids, id)
}

// footprint returns the bytes held by the ring's arrays (not counting member
// ID and zone strings), for BenchmarkNew's MiB/ring metric.
func (r *Ring) footprint() int {
	return len(r.members)*int(unsafe.Sizeof(Member{})) + len(r.ids)*16 + len(r.zoneOf)*2 +
		len(r.pos)*8 + len(r.owner)*2 + len(r.prefs)*2 + len(r.slots)*4 + len(r.cuts)*4 + len(r.owners)*2
}
