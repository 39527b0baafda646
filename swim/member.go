package swim

import (
	"fmt"
	"time"
)

// State is the liveness of a member as seen by the local node.
type State uint8

const (
	// StateAlive: the member answers probes (or nobody has doubted it yet).
	StateAlive State = iota
	// StateSuspect: a probe failed; the member has until its suspicion
	// timeout to refute, otherwise it is declared dead.
	StateSuspect
	// StateDead: the member failed. Kept for Config.DeadRetention so that a
	// late refutation or a healed partition can revive it, then forgotten.
	StateDead
	// StateLeft: the member left gracefully. Kept and forgotten like Dead.
	StateLeft
)

// String returns the lower-case state name.
func (s State) String() string {
	switch s {
	case StateAlive:
		return "alive"
	case StateSuspect:
		return "suspect"
	case StateDead:
		return "dead"
	case StateLeft:
		return "left"
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// Member is a snapshot of one member of the cluster.
type Member struct {
	// Name is unique in the cluster.
	Name string
	// Addr is the address its transport listens on ("host:port").
	Addr string
	// Meta is application metadata, at most Config.MetaMaxSize bytes. The
	// slice is owned by the snapshot: callers may keep it.
	Meta []byte
	// State as seen by the local node.
	State State
	// Incarnation orders claims about the member; only the member itself
	// raises it (to refute a suspicion or to publish new metadata).
	Incarnation uint64
}

// EventKind says what happened to a member.
type EventKind uint8

const (
	// EventJoin: a member appeared (or came back after it was dead or left).
	EventJoin EventKind = iota + 1
	// EventUpdate: an alive member changed its metadata or address.
	EventUpdate
	// EventLeave: a member left gracefully.
	EventLeave
	// EventFail: a member was declared dead.
	EventFail
	// EventMessage: a user message broadcast by Origin arrived; see Payload.
	EventMessage
)

// String returns the lower-case event name.
func (k EventKind) String() string {
	switch k {
	case EventJoin:
		return "join"
	case EventUpdate:
		return "update"
	case EventLeave:
		return "leave"
	case EventFail:
		return "fail"
	case EventMessage:
		return "message"
	}
	return fmt.Sprintf("event(%d)", uint8(k))
}

// Event is delivered to the application, in the order the local node
// observed the changes.
type Event struct {
	Kind EventKind
	// Member is the member concerned (for EventMessage: a zero Member whose
	// Name is the origin).
	Member Member
	// Payload is the user message for EventMessage, nil otherwise.
	Payload []byte
	// At is the local clock reading when the change was observed.
	At time.Time
}

// EventDelegate receives events one at a time, in order, from a single
// goroutine owned by the node. A slow delegate delays later events but never
// the protocol; see Config.EventQueueSize for what happens when it falls far
// behind.
type EventDelegate interface {
	HandleEvent(Event)
}

// EventDelegateFunc adapts a function to EventDelegate.
type EventDelegateFunc func(Event)

// HandleEvent calls f(e).
func (f EventDelegateFunc) HandleEvent(e Event) { f(e) }

// Clock supplies the current time. The protocol core never reads the wall
// clock directly, so tests can drive it with a manual clock.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// SystemClock returns the wall clock (time.Now).
func SystemClock() Clock { return systemClock{} }
