package swim

import (
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "github.com/gridkv/gridkv/swim/internal/swimpb"
)

// queuedUpdate is one gossip item: a membership update or a user message.
type queuedUpdate struct {
	key       string
	upd       *pb.Update
	user      *pb.UserMessage
	size      int // encoded size inside a Packet, tag and length included
	transmits int
	id        uint64 // larger is newer
}

// gossipQueue holds pending updates. Items for the same key replace each
// other, so a member has at most one queued update. Selection prefers the
// least transmitted, then the newest, as in SWIM's dissemination component.
type gossipQueue struct {
	items  []*queuedUpdate
	byKey  map[string]*queuedUpdate
	nextID uint64
	max    int
}

func newGossipQueue(max int) *gossipQueue {
	return &gossipQueue{byKey: make(map[string]*queuedUpdate), max: max}
}

func fieldSize(m proto.Message) int {
	n := proto.Size(m)
	return 1 + protowire.SizeVarint(uint64(n)) + n
}

func (q *gossipQueue) push(key string, upd *pb.Update, user *pb.UserMessage) {
	q.nextID++
	it := &queuedUpdate{key: key, upd: upd, user: user, id: q.nextID}
	if upd != nil {
		it.size = fieldSize(upd)
	} else {
		it.size = fieldSize(user)
	}
	if old, ok := q.byKey[key]; ok {
		*old = *it
		return
	}
	q.byKey[key] = it
	q.items = append(q.items, it)
	if len(q.items) > q.max {
		// Drop the most transmitted (then oldest) item.
		q.sort()
		last := q.items[len(q.items)-1]
		q.items = q.items[:len(q.items)-1]
		delete(q.byKey, last.key)
	}
}

func (q *gossipQueue) sort() {
	slices.SortFunc(q.items, func(a, b *queuedUpdate) int {
		if a.transmits != b.transmits {
			return a.transmits - b.transmits
		}
		switch {
		case a.id > b.id:
			return -1
		case a.id < b.id:
			return 1
		}
		return 0
	})
}

func (q *gossipQueue) len() int { return len(q.items) }

// fill appends items to pkt while they fit in budget bytes, counting one
// transmission each and retiring items that reached limit. It returns the
// bytes used.
func (q *gossipQueue) fill(pkt *pb.Packet, budget, limit int) int {
	if len(q.items) == 0 || budget <= 0 {
		return 0
	}
	q.sort()
	used := 0
	removed := false
	for _, it := range q.items {
		if it.size > budget-used {
			continue
		}
		used += it.size
		if it.upd != nil {
			pkt.Updates = append(pkt.Updates, it.upd)
		} else {
			pkt.UserMessages = append(pkt.UserMessages, it.user)
		}
		it.transmits++
		if it.transmits >= limit {
			removed = true
		}
		if budget-used < 8 {
			break
		}
	}
	if removed {
		q.items = slices.DeleteFunc(q.items, func(it *queuedUpdate) bool {
			if it.transmits >= limit {
				delete(q.byKey, it.key)
				return true
			}
			return false
		})
	}
	return used
}
