package gridkv

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/gridkv/gridkv/ring"
	"github.com/gridkv/gridkv/swim"
)

// errBadMessage marks bytes from the network that do not decode.
var errBadMessage = errors.New("gridkv: malformed message")

// maxMetaField bounds the address and zone carried in member metadata.
const maxMetaField = 255

// encodeMeta packs what other nodes need to place data on this one: its
// data address and zone. Format: version 1, then two length-prefixed fields.
func encodeMeta(addr, zone string) ([]byte, error) {
	if len(addr) > maxMetaField || len(zone) > maxMetaField {
		return nil, fmt.Errorf("%w: address or zone longer than %d bytes", ErrInvalidOptions, maxMetaField)
	}
	b := make([]byte, 0, 3+len(addr)+len(zone))
	b = append(b, 1, byte(len(addr)))
	b = append(b, addr...)
	b = append(b, byte(len(zone)))
	return append(b, zone...), nil
}

// decodeMeta is the inverse of encodeMeta; it rejects anything else.
func decodeMeta(b []byte) (addr, zone string, err error) {
	field := func() (string, bool) {
		if len(b) < 1 || len(b) < 1+int(b[0]) {
			return "", false
		}
		s := string(b[1 : 1+int(b[0])])
		b = b[1+int(b[0]):]
		return s, true
	}
	if len(b) < 1 || b[0] != 1 {
		return "", "", fmt.Errorf("%w: metadata version", errBadMessage)
	}
	b = b[1:]
	var ok1, ok2 bool
	addr, ok1 = field()
	zone, ok2 = field()
	if !ok1 || !ok2 || len(b) != 0 {
		return "", "", fmt.Errorf("%w: metadata fields", errBadMessage)
	}
	return addr, zone, nil
}

// MemberInfo describes a cluster member as this node sees it.
type MemberInfo struct {
	ID    string
	Addr  string
	Zone  string
	State string // "alive", "suspect", "dead" or "left"
	// InRing is true while the member owns ranges. A failed member keeps
	// them for Options.HintWindow (writes for it are hinted to stand-ins).
	InRing bool
}

type memberState struct {
	id, addr, zone string
	state          swim.State
	since          time.Time
}

// ringState is an immutable snapshot used by the data path.
type ringState struct {
	ring    *ring.Ring
	addrs   map[string]string // member ID -> data address
	healthy map[string]bool   // members that are alive or suspect
	// prev is the ring before the last ownership change, kept while ranges
	// are moving so that reads still find keys on their old owners.
	prev *ring.Ring
}

// view turns membership events into rings.
type view struct {
	n      *Node
	selfID string

	mu      sync.Mutex
	members map[string]*memberState
	ringIDs []string // sorted IDs the current ring was built from
	cur     atomic.Pointer[ringState]
}

func newView(n *Node, id, addr, zone string) *view {
	v := &view{n: n, selfID: id, members: map[string]*memberState{
		id: {id: id, addr: addr, zone: zone, state: swim.StateAlive, since: time.Now()},
	}}
	v.mu.Lock()
	v.rebuildLocked()
	v.mu.Unlock()
	return v
}

func (v *view) current() *ringState { return v.cur.Load() }

// HandleEvent implements swim.EventDelegate.
func (v *view) HandleEvent(e swim.Event) {
	if e.Kind == swim.EventMessage {
		return
	}
	m := e.Member
	if m.Name == v.selfID {
		return // this node is always in its own ring
	}
	addr, zone, err := decodeMeta(m.Meta)
	if err != nil {
		v.n.log.Warn("ignoring member with bad metadata", zap.String("member", m.Name), zap.Error(err))
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	ms := v.members[m.Name]
	if ms == nil {
		ms = &memberState{id: m.Name}
		v.members[m.Name] = ms
	}
	ms.addr, ms.zone = addr, zone
	if ms.state != m.State {
		ms.since = time.Now()
	}
	ms.state = m.State
	if e.Kind == swim.EventLeave {
		ms.state = swim.StateLeft
	}
	v.rebuildLocked()
}

// expire drops members that failed longer than the hint window ago and
// members that left, moving their ranges to the remaining nodes.
func (v *view) expire(window time.Duration) {
	v.mu.Lock()
	defer v.mu.Unlock()
	changed := false
	for id, ms := range v.members {
		if ms.state == swim.StateDead && time.Since(ms.since) > window || ms.state == swim.StateLeft && time.Since(ms.since) > window {
			delete(v.members, id)
			changed = true
		}
	}
	if changed {
		v.rebuildLocked()
	}
}

// inRing reports whether a member keeps its ranges: alive, suspect, or
// failed within the hint window. Members that left hand their ranges over
// at once.
func inRing(ms *memberState) bool { return ms.state != swim.StateLeft }

func (v *view) rebuildLocked() {
	var ids []string
	for id, ms := range v.members {
		if inRing(ms) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	old := v.cur.Load()
	st := &ringState{addrs: make(map[string]string, len(v.members)), healthy: make(map[string]bool, len(v.members))}
	for id, ms := range v.members {
		st.addrs[id] = ms.addr
		st.healthy[id] = ms.state == swim.StateAlive || ms.state == swim.StateSuspect
	}
	if old != nil && slices.Equal(ids, v.ringIDs) && v.sameZones(old.ring) {
		st.ring, st.prev = old.ring, old.prev
		v.cur.Store(st)
		return
	}
	members := make([]ring.Member, 0, len(ids))
	for _, id := range ids {
		members = append(members, ring.Member{ID: id, Weight: 1, Zone: v.members[id].zone})
	}
	cfg := ring.DefaultConfig()
	cfg.VNodesPerWeight = vnodesPerWeight
	r, err := ring.New(members, cfg)
	if err != nil {
		// Member IDs come from swim (unique, bounded); a failure here is a
		// bug, so keep the previous ring rather than lose placement.
		v.n.log.Error("cannot build ring", zap.Error(err))
		if old != nil {
			st.ring, st.prev = old.ring, old.prev
			v.cur.Store(st)
		}
		return
	}
	st.ring = r
	v.ringIDs = ids
	if old != nil {
		st.prev = old.ring
		v.cur.Store(st)
		v.n.rebal.ringChanged(old.ring, r)
		return
	}
	v.cur.Store(st)
}

func (v *view) sameZones(r *ring.Ring) bool {
	for _, m := range r.Members() {
		if ms := v.members[m.ID]; ms == nil || ms.zone != m.Zone {
			return false
		}
	}
	return true
}

// clearPrev forgets the previous ring once every range move is done.
func (v *view) clearPrev(r *ring.Ring) {
	v.mu.Lock()
	defer v.mu.Unlock()
	st := v.cur.Load()
	if st.ring != r || st.prev == nil {
		return
	}
	next := *st
	next.prev = nil
	v.cur.Store(&next)
}

func (v *view) list() []MemberInfo {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]MemberInfo, 0, len(v.members))
	for _, ms := range v.members {
		out = append(out, MemberInfo{ID: ms.id, Addr: ms.addr, Zone: ms.zone, State: ms.state.String(), InRing: inRing(ms)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// startMembership creates the swim node over the transport.
func (n *Node) startMembership() error {
	meta, err := encodeMeta(n.tr.Addr(), n.opts.Zone)
	if err != nil {
		return err
	}
	cfg := n.opts.swimConfig()
	sn, err := newSwimNet(n.tr, cfg.StreamTimeout)
	if err != nil {
		return err
	}
	cfg.Name = n.id
	cfg.Transport = sn
	cfg.Meta = meta
	cfg.Label = n.opts.ClusterLabel
	cfg.EventDelegate = n.view
	if len(n.opts.ClusterKey) > 0 {
		kr, err := swim.NewKeyring(n.opts.ClusterKey)
		if err != nil {
			return fmt.Errorf("%w: ClusterKey: %v", ErrInvalidOptions, err)
		}
		cfg.Keyring = kr
	}
	s, err := swim.Create(cfg)
	if err != nil {
		sn.Close()
		return fmt.Errorf("gridkv: membership: %w", err)
	}
	n.swim = s
	return nil
}
