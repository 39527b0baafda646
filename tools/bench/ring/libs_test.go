package ringbench

import (
	"fmt"
	"strconv"

	"github.com/buraksezer/consistent"
	"github.com/cespare/xxhash/v2"
	"github.com/golang/groupcache/consistenthash"
	"github.com/gridkv/gridkv/ring"
)

// Shared setup: the same members, virtual node count and keys for every
// library.
const (
	members = 10
	vnodes  = 150
	numKeys = 1 << 14
)

func memberID(i int) string { return fmt.Sprintf("node-%d", i) }

func benchKeys() ([]string, [][]byte) {
	ks := make([]string, numKeys)
	bs := make([][]byte, numKeys)
	for i := range ks {
		ks[i] = "key-" + strconv.Itoa(i)
		bs[i] = []byte(ks[i])
	}
	return ks, bs
}

// newGridKV builds a gridkv ring of n members; vnodesPerMember 0 means the
// default config; zones 0 leaves every member in the same (empty) zone.
func newGridKV(n, vnodesPerMember, zones int) *ring.Ring {
	ms := make([]ring.Member, n)
	for i := range ms {
		ms[i] = ring.Member{ID: memberID(i), Weight: 1}
		if zones > 0 {
			ms[i].Zone = "zone-" + strconv.Itoa(i%zones)
		}
	}
	cfg := ring.DefaultConfig()
	if vnodesPerMember > 0 {
		cfg.VNodesPerWeight = vnodesPerMember
	}
	r, err := ring.New(ms, cfg)
	if err != nil {
		panic(err)
	}
	return r
}

type xxhasher struct{}

func (xxhasher) Sum64(b []byte) uint64 { return xxhash.Sum64(b) }

type bsMember string

func (m bsMember) String() string { return string(m) }

// newBuraksezer builds a buraksezer/consistent ring of n members with the
// closest equivalent of 150 virtual nodes: ReplicationFactor 150, default
// partition count (271), the README's load factor 1.25, xxhash64.
func newBuraksezer(n int) *consistent.Consistent {
	ms := make([]consistent.Member, n)
	for i := range ms {
		ms[i] = bsMember(memberID(i))
	}
	return consistent.New(ms, consistent.Config{
		PartitionCount:    consistent.DefaultPartitionCount,
		ReplicationFactor: vnodes,
		Load:              1.25,
		Hasher:            xxhasher{},
	})
}

// newGroupcache builds a groupcache consistenthash map of n members with 150
// replicas and its default hash (CRC-32).
func newGroupcache(n int) *consistenthash.Map {
	m := consistenthash.New(vnodes, nil)
	for i := 0; i < n; i++ {
		m.Add(memberID(i))
	}
	return m
}
