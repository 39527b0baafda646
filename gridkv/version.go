package gridkv

import (
	"encoding/binary"

	"github.com/cespare/xxhash/v2"
	"github.com/gridkv/gridkv/hlc"
	"github.com/gridkv/gridkv/storage"
)

// makeVersion packs an hlc timestamp and the writer's tie-breaker into a
// storage.Version. The timestamp's encoding sorts bytewise in time order, so
// versions compare by time first, then by node: two nodes that write the same
// key at the same timestamp still produce distinct, ordered versions.
func makeVersion(ts hlc.Timestamp, tiebreak uint32) storage.Version {
	var v storage.Version
	ts.AppendBinary(v[:0]) // writes the 12-byte encoding into v's array
	binary.BigEndian.PutUint32(v[hlc.EncodedLen:], tiebreak)
	return v
}

// versionTime returns the hlc timestamp inside a version.
func versionTime(v storage.Version) hlc.Timestamp {
	var ts hlc.Timestamp
	_ = ts.UnmarshalBinary(v[:hlc.EncodedLen]) // fixed length: cannot fail
	return ts
}

// tiebreakOf derives a node's tie-breaker from its ID.
func tiebreakOf(id string) uint32 { return uint32(xxhash.Sum64String(id)) }

// wallClock adapts an hlc.WallClock to storage.Clock, so versions, TTLs and
// expiry read the same time source.
type wallClock hlc.WallClock

func (w wallClock) Now() int64 { return w() }
