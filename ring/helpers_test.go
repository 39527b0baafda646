package ring

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// handHash places virtual node "ID#i" at atoi(ID) + 10*i and any other key at
// atoi(key), so that placement can be checked by hand (the groupcache
// consistenthash test idea). Non-numeric input hashes to 0.
func handHash(b []byte) uint64 {
	s := string(b)
	if id, i, ok := strings.Cut(s, "#"); ok {
		a, _ := strconv.Atoi(id)
		n, _ := strconv.Atoi(i)
		return uint64(a + 10*n)
	}
	n, _ := strconv.Atoi(s)
	return uint64(n)
}

// mapHash returns a hash that looks positions up in m (0 when absent).
func mapHash(m map[string]uint64) HashFunc {
	return func(b []byte) uint64 { return m[string(b)] }
}

func nodes(n, zones int) []Member {
	ms := make([]Member, n)
	for i := range ms {
		ms[i] = Member{ID: fmt.Sprintf("node-%d", i), Weight: 1, Zone: fmt.Sprintf("zone-%d", i%zones)}
	}
	return ms
}

func mustNew(tb interface{ Fatal(...any) }, ms []Member, cfg Config) *Ring {
	r, err := New(ms, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// referenceReplicas is an independent, deliberately naive statement of the
// placement rule, used to check both the tables and walk: find the owning
// virtual node by binary search, list members in order of first appearance
// walking from there, take the first member of each zone in that order, then
// fill up with the remaining members in that order.
func referenceReplicas(r *Ring, h uint64, n int) []string {
	B := len(r.pos)
	start := sort.Search(B, func(i int) bool { return r.pos[i] > h })
	var order []int
	seen := map[int]bool{}
	for k := 0; k < B && len(order) < len(r.members); k++ {
		m := int(r.owner[(start+k)%B])
		if !seen[m] {
			seen[m] = true
			order = append(order, m)
		}
	}
	var out []string
	taken := map[int]bool{}
	zones := map[string]bool{}
	for _, m := range order {
		if z := r.members[m].Zone; !zones[z] && len(out) < n {
			zones[z] = true
			taken[m] = true
			out = append(out, r.members[m].ID)
		}
	}
	for _, m := range order {
		if !taken[m] && len(out) < n {
			out = append(out, r.members[m].ID)
		}
	}
	return out
}

// referenceVNode is the owning virtual node by binary search: the first
// whose position is greater than h, wrapping to 0.
func referenceVNode(r *Ring, h uint64) int {
	return sort.Search(len(r.pos), func(i int) bool { return r.pos[i] > h }) % len(r.pos)
}

// referenceOwner is the owner by binary search over the virtual nodes.
func referenceOwner(r *Ring, h uint64) string {
	return r.ids[r.owner[referenceVNode(r, h)]]
}

// probes returns hashes worth checking on r: every virtual node position and
// its neighbours, both ends of the ring, and the given random ones.
func probes(r *Ring, random []uint64) []uint64 {
	hs := []uint64{0, 1, ^uint64(0), ^uint64(0) - 1}
	for _, p := range r.pos {
		hs = append(hs, p-1, p, p+1)
	}
	return slices.Concat(hs, random)
}
